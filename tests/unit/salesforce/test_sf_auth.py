"""OAuth 2.0 tokens: client credentials (body, then HTTP Basic), JWT bearer, clear failures."""

from __future__ import annotations

import base64

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sf_fakes import INSTANCE, SECRET, TOKEN_URL, token_answers

from lesync.salesforce import AuthFlow, SalesforceAuthError, SalesforceConnectionSettings, TokenProvider


def test_client_credentials_token_is_fetched_once_and_cached(http, settings):
    http.post(TOKEN_URL, token_answers("tok-1"))
    tokens = TokenProvider(settings)
    assert tokens.token().access_token == "tok-1"
    assert tokens.token().access_token == "tok-1"
    assert http.call_count == 1
    form = http.last_request.text
    assert "grant_type=client_credentials" in form and "client_id=cid" in form


def test_invalidate_fetches_a_new_token(http, settings):
    http.post(TOKEN_URL, token_answers("tok-1", "tok-2"))
    tokens = TokenProvider(settings)
    stale = tokens.token()
    tokens.invalidate(stale)
    assert tokens.token().access_token == "tok-2"
    assert tokens.logins == 2


def test_invalid_client_retries_with_http_basic(http, settings):
    http.post(
        TOKEN_URL,
        [
            {"status_code": 400, "json": {"error": "invalid_client", "error_description": "bad"}},
            *token_answers("tok-basic"),
        ],
    )
    assert TokenProvider(settings).token().access_token == "tok-basic"
    basic = http.request_history[1]
    expected = base64.b64encode(f"cid:{SECRET}".encode()).decode()
    assert basic.headers["Authorization"] == f"Basic {expected}"
    assert SECRET not in basic.text


def test_generic_login_host_failure_says_use_my_domain_and_hides_secret(http):
    url = "https://login.salesforce.com/services/oauth2/token"
    settings = SalesforceConnectionSettings(client_id="cid", client_secret=SECRET, token_url=url)
    body = {"error": "invalid_grant", "error_description": "request not supported on this domain"}
    http.post(url, status_code=400, json=body)
    with pytest.raises(SalesforceAuthError) as raised:
        TokenProvider(settings).token()
    assert "My Domain" in str(raised.value)
    assert "invalid_grant" in str(raised.value)
    assert SECRET not in str(raised.value) and SECRET not in repr(settings)


def test_my_domain_failure_does_not_blame_the_host(http, settings):
    http.post(TOKEN_URL, status_code=400, json={"error": "invalid_grant", "error_description": "no user"})
    with pytest.raises(SalesforceAuthError) as raised:
        TokenProvider(settings).token()
    assert "My Domain" not in str(raised.value)


def test_jwt_bearer_signs_rs256_claims(http, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem)
    settings = SalesforceConnectionSettings(
        auth_flow=AuthFlow.JWT_BEARER,
        client_id="cid",
        username="int@acme.com",
        private_key_file=str(key_file),
        token_url=TOKEN_URL,
    )
    http.post(TOKEN_URL, token_answers("tok-jwt"))
    token = TokenProvider(settings).token()
    assert token.access_token == "tok-jwt" and token.instance_url == INSTANCE
    form = dict(pair.split("=", 1) for pair in http.last_request.text.split("&"))
    assert form["grant_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    # Signed for the production login host, not the My Domain the token is requested from.
    claims = jwt.decode(
        form["assertion"], key.public_key(), algorithms=["RS256"], audience="https://login.salesforce.com"
    )
    assert claims["iss"] == "cid" and claims["sub"] == "int@acme.com"
    assert "tok-jwt" not in repr(token)


def test_instance_url_override_wins(http):
    settings = SalesforceConnectionSettings(
        client_id="cid", client_secret="x", token_url=TOKEN_URL, instance_url="https://other.example:8443"
    )
    http.post(TOKEN_URL, token_answers("t"))
    assert TokenProvider(settings).token().instance_url == "https://other.example:8443"


def test_jwt_without_key_is_refused_by_settings():
    with pytest.raises(ValueError, match="private key"):
        SalesforceConnectionSettings(auth_flow=AuthFlow.JWT_BEARER, client_id="cid", username="u")


@pytest.mark.parametrize(
    ("token_url", "explicit", "audience"),
    [
        ("https://acme.my.salesforce.com/services/oauth2/token", None, "https://login.salesforce.com"),
        ("https://login.salesforce.com/services/oauth2/token", None, "https://login.salesforce.com"),
        ("https://test.salesforce.com/services/oauth2/token", None, "https://test.salesforce.com"),
        (
            "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/token",
            None,
            "https://test.salesforce.com",
        ),
        (
            "https://acme.my.salesforce.com/services/oauth2/token",
            "https://acme.my.site.com",
            "https://acme.my.site.com",
        ),
    ],
    ids=["my-domain", "production", "sandbox", "sandbox-my-domain", "explicit-wins"],
)
def test_jwt_audience_defaults_by_environment_and_the_explicit_setting_wins(token_url, explicit, audience):
    settings = SalesforceConnectionSettings(
        auth_flow=AuthFlow.JWT_BEARER,
        client_id="cid",
        username="int@acme.com",
        private_key="-----BEGIN PRIVATE KEY-----",
        token_url=token_url,
        jwt_audience=explicit,
    )
    assert TokenProvider(settings)._jwt_claims()["aud"] == audience
