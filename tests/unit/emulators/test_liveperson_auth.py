"""Service discovery and authentication of the LivePerson emulator, proven with
requests-oauthlib's OAuth1 signer and plain form posts to Sentinel."""

from __future__ import annotations

import time

import pytest

SERVICES = ("engHistDomain", "msgHist", "sentinel")


def test_domain_api_returns_host_and_port_without_scheme(lp_api, lp_emulator):
    for service in SERVICES:
        assert lp_api.hosts[service] == lp_emulator.domain
    assert not lp_emulator.domain.startswith("https")


def test_domain_api_lists_all_services(lp_api, lp_session):
    url = f"{lp_api.info['domain_api_url']}/api/account/{lp_api.account}/service/baseURI.json"
    body = lp_session.get(url, params={"version": "1.0"}).json()
    listed = {item["service"]: item for item in body["baseURIs"]}
    assert set(SERVICES) <= set(listed)
    assert all(item["account"] == lp_api.account for item in listed.values())


@pytest.mark.parametrize("service", ["enghistdomain", "MsgHist", "nope"])
def test_domain_api_service_names_are_case_sensitive(lp_api, lp_session, service):
    url = f"{lp_api.info['domain_api_url']}/api/account/{lp_api.account}/service/{service}/baseURI.json"
    response = lp_session.get(url, params={"version": "1.0"})
    assert response.status_code == 404
    assert "not found" in response.json()["message"]


def test_domain_api_unknown_account(lp_api, lp_session):
    url = f"{lp_api.info['domain_api_url']}/api/account/nosuchaccount/service/msgHist/baseURI.json"
    assert lp_session.get(url, params={"version": "1.0"}).status_code == 404


def test_signed_search_succeeds(lp_api):
    response = lp_api.chat(lp_api.window(), limit=1)
    assert response.status_code == 200, response.text
    assert response.json()["_metadata"]["count"] > 0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"client_key": "not-a-key"}, "Unknown consumer key"),
        ({"client_secret": "wrong-secret"}, "signature mismatch"),
        ({"resource_owner_key": "wrong-token"}, "Invalid access token"),
        ({"resource_owner_secret": "wrong-token-secret"}, "signature mismatch"),
    ],
)
def test_wrong_keys_are_refused_with_a_reason(lp_api, lp_make_oauth1, overrides, expected):
    response = lp_api.messaging(lp_api.window(), auth=lp_make_oauth1(**overrides))
    assert response.status_code == 401
    assert expected in response.json()["message"]


def test_altered_request_fails_the_signature(lp_api, lp_session):
    """Sign one URL, send another: the signature no longer matches."""
    import requests

    signed = requests.Request("POST", lp_api.chat_url(), params={"source": "a"}, json={}, auth=lp_api.auth)
    prepared = lp_session.prepare_request(signed)
    prepared.url = prepared.url.replace("source=a", "source=b")
    response = lp_session.send(prepared)
    assert response.status_code == 401
    assert "signature mismatch" in response.json()["message"]


@pytest.mark.parametrize("skew_s", [-301 - 5, 301 + 5])
def test_stale_timestamp_is_refused(lp_api, lp_make_oauth1, skew_s):
    auth = lp_make_oauth1()
    auth.client.timestamp = str(int(time.time()) + skew_s)
    response = lp_api.chat(lp_api.window(), auth=auth)
    assert response.status_code == 401
    assert "Stale OAuth timestamp" in response.json()["message"]


def test_timestamp_within_tolerance_is_accepted(lp_api, lp_make_oauth1):
    auth = lp_make_oauth1()
    auth.client.timestamp = str(int(time.time()) - 200)
    assert lp_api.chat(lp_api.window(), auth=auth, limit=1).status_code == 200


def test_missing_authorization_is_401(lp_api, lp_session):
    response = lp_session.post(lp_api.chat_url(), params={"source": "x"}, json=lp_api.window())
    assert response.status_code == 401
    assert "Missing authorization" in response.json()["message"]


def test_keys_without_history_permission_get_403(lp_api, lp_emulator, lp_make_oauth1):
    keys = lp_emulator.state.config.no_permission_keyset
    auth = lp_make_oauth1(
        client_key=keys.consumer_key,
        client_secret=keys.consumer_secret,
        resource_owner_key=keys.access_token,
        resource_owner_secret=keys.access_token_secret,
    )
    assert lp_api.chat(lp_api.window(), auth=auth).status_code == 403
    assert lp_api.messaging(lp_api.window(), auth=auth).status_code == 403


def _token(lp_api, client_id, client_secret, grant_type="client_credentials"):
    url = f"https://{lp_api.hosts['sentinel']}/sentinel/api/v2/account/{lp_api.account}/app/token"
    form = {"client_id": client_id, "client_secret": client_secret, "grant_type": grant_type}
    return lp_api.session.post(url, data=form)


def _bearer(token: str) -> object:
    def add_header(request):
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    return add_header


def test_bearer_token_flow(lp_api):
    response = _token(lp_api, lp_api.info["oauth2_client_id"], lp_api.info["oauth2_client_secret"])
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert token["access_token"].count(".") == 2  # JWT-looking
    assert lp_api.messaging(lp_api.window(), auth=_bearer(token["access_token"]), limit=1).status_code == 200


def test_bearer_bad_client_and_bad_token(lp_api):
    assert _token(lp_api, lp_api.info["oauth2_client_id"], "wrong").status_code == 401
    assert _token(lp_api, "nobody", "x").status_code == 401
    bad_grant = _token(
        lp_api, lp_api.info["oauth2_client_id"], lp_api.info["oauth2_client_secret"], "password"
    )
    assert bad_grant.status_code == 400
    assert lp_api.chat(lp_api.window(), auth=_bearer("made.up.token")).status_code == 401


def test_bearer_token_expires_on_the_emulator_clock(lp_api, lp_emulator):
    token = _token(lp_api, lp_api.info["oauth2_client_id"], lp_api.info["oauth2_client_secret"]).json()
    auth = _bearer(token["access_token"])
    assert lp_api.chat(lp_api.window(), auth=auth, limit=1).status_code == 200
    lp_emulator.state.clock.advance(3600)
    response = lp_api.chat(lp_api.window(), auth=auth, limit=1)
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_no_permission_oauth2_client_gets_403(lp_api, lp_emulator):
    keys = lp_emulator.state.config.no_permission_keyset
    token = _token(lp_api, keys.oauth2_client_id, keys.oauth2_client_secret).json()["access_token"]
    assert lp_api.chat(lp_api.window(), auth=_bearer(token)).status_code == 403
