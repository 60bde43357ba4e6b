"""OAuth 2.0 flows, expiring sessions and API versions of the Salesforce emulator."""

from __future__ import annotations

import time

import jwt
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceResourceNotFound


def token_request(emulator, session, **form):
    return session.post(emulator.token_url, data=form)


def jwt_assertion(emulator, **overrides) -> str:
    info = emulator.connection_info()
    claims = {
        "iss": info["client_id"],
        "sub": info["username"],
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 120,
        **overrides,
    }
    return jwt.encode(claims, emulator.jwt_private_key_file.read_bytes(), algorithm="RS256")


def client_credentials_token(emulator, session) -> str:
    info = emulator.connection_info()
    response = token_request(
        emulator,
        session,
        grant_type="client_credentials",
        client_id=info["client_id"],
        client_secret=info["client_secret"],
    )
    return response.json()["access_token"]


def test_client_credentials_returns_a_salesforce_token_response(sf_emulator, sf_session):
    info = sf_emulator.connection_info()
    response = token_request(
        sf_emulator,
        sf_session,
        grant_type="client_credentials",
        client_id=info["client_id"],
        client_secret=info["client_secret"],
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == sf_emulator.url == info["instance_url"]


def test_client_credentials_accepts_http_basic(sf_emulator, sf_session):
    info = sf_emulator.connection_info()
    response = sf_session.post(
        sf_emulator.token_url,
        data={"grant_type": "client_credentials"},
        auth=(info["client_id"], info["client_secret"]),
    )
    assert response.status_code == 200
    assert response.json()["access_token"]


def test_bad_client_secret_is_invalid_client(sf_emulator, sf_session):
    info = sf_emulator.connection_info()
    response = token_request(
        sf_emulator,
        sf_session,
        grant_type="client_credentials",
        client_id=info["client_id"],
        client_secret="x",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_description"]


def test_unsupported_grant_type(sf_emulator, sf_session):
    response = token_request(sf_emulator, sf_session, grant_type="password", username="u", password="p")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_jwt_bearer_signed_with_the_emulator_key_works_with_simple_salesforce(sf_emulator, sf_session):
    response = token_request(
        sf_emulator,
        sf_session,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=jwt_assertion(sf_emulator),
    )
    assert response.status_code == 200, response.text
    sf = Salesforce(
        instance_url=sf_emulator.url,
        session_id=response.json()["access_token"],
        session=sf_session,
        version="62.0",
    )
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"sub": "someone@else.example"}, "invalid_grant"),
        ({"aud": "https://evil.example"}, "invalid_grant"),
        ({"exp": int(time.time()) + 3600}, "invalid_grant"),
        ({"exp": int(time.time()) - 60}, "invalid_grant"),
        ({"iss": "unknown-client"}, "invalid_client"),
    ],
)
def test_jwt_bearer_rejects_bad_assertions(sf_emulator, sf_session, overrides, expected):
    response = token_request(
        sf_emulator,
        sf_session,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=jwt_assertion(sf_emulator, **overrides),
    )
    assert response.status_code == 400
    assert response.json()["error"] == expected


def test_jwt_signed_with_another_key_is_invalid_grant(sf_emulator, sf_session):
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info = sf_emulator.connection_info()
    claims = {"iss": info["client_id"], "sub": info["username"], "aud": "https://login.salesforce.com"}
    assertion = jwt.encode({**claims, "exp": int(time.time()) + 60}, other_key, algorithm="RS256")
    response = token_request(
        sf_emulator, sf_session, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=assertion
    )
    assert response.json()["error"] == "invalid_grant"


def test_missing_or_unknown_token_is_invalid_session(sf_emulator, sf_session):
    response = sf_session.get(f"{sf_emulator.url}/services/data/v62.0/limits")
    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []}
    ]


def test_expire_tokens_in_process_gives_401_then_a_new_token_works(sf_emulator, sf_session):
    token = client_credentials_token(sf_emulator, sf_session)
    sf = Salesforce(instance_url=sf_emulator.url, session_id=token, session=sf_session, version="62.0")
    sf.query("SELECT Id FROM Account")
    sf_emulator.state.expire_tokens()
    with pytest.raises(SalesforceExpiredSession) as raised:
        sf.query("SELECT Id FROM Account")
    assert raised.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    fresh = Salesforce(
        instance_url=sf_emulator.url,
        session_id=client_credentials_token(sf_emulator, sf_session),
        session=sf_session,
        version="62.0",
    )
    assert fresh.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_expire_tokens_over_http(sf_emulator, sf_session):
    token = client_credentials_token(sf_emulator, sf_session)
    headers = {"Authorization": f"Bearer {token}"}
    assert sf_session.get(f"{sf_emulator.url}/services/data/v62.0/limits", headers=headers).status_code == 200
    assert sf_session.post(f"{sf_emulator.url}/_emulator/salesforce/expire-tokens").status_code == 204
    assert sf_session.get(f"{sf_emulator.url}/services/data/v62.0/limits", headers=headers).status_code == 401


def test_tokens_expire_after_their_lifetime(sf_emulator, sf_session):
    tokens = sf_emulator.state.tokens
    saved, tokens.lifetime_s = tokens.lifetime_s, 0.2
    try:
        token = client_credentials_token(sf_emulator, sf_session)
    finally:
        tokens.lifetime_s = saved
    headers = {"Authorization": f"Bearer {token}"}
    assert sf_session.get(f"{sf_emulator.url}/services/data/v62.0/limits", headers=headers).status_code == 200
    time.sleep(0.3)
    assert sf_session.get(f"{sf_emulator.url}/services/data/v62.0/limits", headers=headers).status_code == 401


def test_versions_and_unsupported_version(sf_emulator, sf_session):
    versions = sf_session.get(f"{sf_emulator.url}/services/data/").json()
    assert {"version": "62.0", "url": "/services/data/v62.0", "label": "Winter '25"} in versions
    token = client_credentials_token(sf_emulator, sf_session)
    headers = {"Authorization": f"Bearer {token}"}
    resources = sf_session.get(f"{sf_emulator.url}/services/data/v62.0/", headers=headers).json()
    assert resources["query"] == "/services/data/v62.0/query"
    missing = sf_session.get(f"{sf_emulator.url}/services/data/v12.0/limits", headers=headers)
    assert missing.status_code == 404
    assert missing.json()[0]["errorCode"] == "NOT_FOUND"
    sf = Salesforce(instance_url=sf_emulator.url, session_id=token, session=sf_session, version="12.0")
    with pytest.raises(SalesforceResourceNotFound):
        sf.query("SELECT Id FROM Account")


@pytest.mark.parametrize(
    "audience",
    ["https://test.salesforce.com", "{instance}", "{host}", "https://acme.my.salesforce.com"],
    ids=["sandbox-host-in-production", "instance-url", "bare-host", "my-domain"],
)
def test_jwt_audience_other_than_the_environment_login_host_is_invalid(sf_emulator, sf_session, audience):
    """api-facts "JWT bearer audience": never the My Domain or instance host, whatever the token URL."""
    instance = sf_emulator.url
    aud = audience.format(instance=instance, host=instance.split("://", 1)[1])
    response = token_request(
        sf_emulator,
        sf_session,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=jwt_assertion(sf_emulator, aud=aud),
    )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "audience is invalid"}


def test_sandbox_emulator_accepts_only_the_test_audience(tmp_path):
    import requests

    from lesync.emulators.salesforce import SalesforceEmulatorConfig, start_salesforce

    emu = start_salesforce(SalesforceEmulatorConfig(environment="sandbox"), data_dir=tmp_path)
    try:
        session = requests.Session()
        session.verify, session.trust_env = str(emu.ca_file), False
        grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
        test = token_request(
            emu, session, grant_type=grant, assertion=jwt_assertion(emu, aud="https://test.salesforce.com")
        )
        login = token_request(emu, session, grant_type=grant, assertion=jwt_assertion(emu))
    finally:
        emu.stop()
    assert test.status_code == 200 and login.status_code == 400
