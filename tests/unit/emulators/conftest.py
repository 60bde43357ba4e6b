"""Shared emulator fixtures. Salesforce ones are prefixed ``sf_``, LivePerson ones ``lp_``."""

from __future__ import annotations

import pytest
import requests

from lesync.emulators.salesforce import SalesforceEmulator, start_salesforce


def sf_http_session(ca_file) -> requests.Session:
    """A session that trusts the emulator's CA (trust_env off: REQUESTS_CA_BUNDLE would win)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file)
    return session


@pytest.fixture(scope="module")
def sf_emulator(tmp_path_factory) -> SalesforceEmulator:
    """One Salesforce emulator per test module, with its own data folder."""
    emulator = start_salesforce(data_dir=tmp_path_factory.mktemp("salesforce"))
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def sf_session(sf_emulator) -> requests.Session:
    session = sf_http_session(sf_emulator.ca_file)
    yield session
    session.close()


@pytest.fixture(scope="module")
def sf_token(sf_emulator, sf_session) -> str:
    """An access token from the client credentials flow."""
    info = sf_emulator.connection_info()
    response = sf_session.post(
        info["token_url"],
        data={
            "grant_type": "client_credentials",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
        },
    )
    response.raise_for_status()
    return response.json()["access_token"]


@pytest.fixture(scope="module")
def sf_client(sf_emulator, sf_session, sf_token):
    """simple-salesforce, the independent client the emulator is proven against."""
    from simple_salesforce import Salesforce

    return Salesforce(instance_url=sf_emulator.url, session_id=sf_token, session=sf_session, version="62.0")


# --- LivePerson (lp_) ---------------------------------------------------------------------------


def lp_http_session(ca_file) -> requests.Session:
    """A session that trusts the LivePerson emulator's CA (trust_env off, see sf_http_session)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file)
    return session


def lp_oauth1(info: dict, **overrides):
    """requests-oauthlib's OAuth1 (HMAC-SHA1) for the emulator's keys; ``overrides`` replace any."""
    from requests_oauthlib import OAuth1

    keys = {
        "client_key": info["consumer_key"],
        "client_secret": info["consumer_secret"],
        "resource_owner_key": info["access_token"],
        "resource_owner_secret": info["access_token_secret"],
    }
    keys.update(overrides)
    return OAuth1(signature_method="HMAC-SHA1", **keys)


class LpApi:
    """Thin signed client of the three history endpoints, URLs found through the Domain API."""

    def __init__(self, emulator, session: requests.Session):
        self.emulator = emulator
        self.session = session
        self.info = emulator.connection_info()
        self.account = self.info["account_id"]
        self.auth = lp_oauth1(self.info)
        self.hosts = {name: self._discover(name) for name in ("engHistDomain", "msgHist", "sentinel")}

    def _discover(self, service: str) -> str:
        url = f"{self.info['domain_api_url']}/api/account/{self.account}/service/{service}/baseURI.json"
        response = self.session.get(url, params={"version": "1.0"})
        response.raise_for_status()
        return response.json()["baseURI"]

    def chat_url(self) -> str:
        return f"https://{self.hosts['engHistDomain']}/interaction_history/api/account/{self.account}/interactions/search"

    def messaging_url(self, by_id: bool = False) -> str:
        tail = "conversations/conversation/search" if by_id else "conversations/search"
        return f"https://{self.hosts['msgHist']}/messaging_history/api/account/{self.account}/{tail}"

    def chat(self, body: dict, auth=None, **params) -> requests.Response:
        params.setdefault("source", "lesync-tests")
        return self.session.post(self.chat_url(), params=params, json=body, auth=auth or self.auth)

    def messaging(self, body: dict, auth=None, by_id: bool = False, **params) -> requests.Response:
        params.setdefault("source", "lesync-tests")
        return self.session.post(self.messaging_url(by_id), params=params, json=body, auth=auth or self.auth)

    def window(self, days: float = 3) -> dict:
        now = self.emulator.state.clock.now()
        return {"start": {"from": now - int(days * 86_400_000), "to": now}}


@pytest.fixture(scope="module")
def lp_emulator(tmp_path_factory):
    """One LivePerson emulator (600 conversations) per test module, so clock moves stay local."""
    from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson

    config = LivePersonEmulatorConfig(conversations=600)
    emulator = start_liveperson(config, data_dir=tmp_path_factory.mktemp("liveperson"))
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def lp_session(lp_emulator) -> requests.Session:
    """Closed before the emulator stops: open keep-alive connections would delay its shutdown."""
    session = lp_http_session(lp_emulator.ca_file)
    yield session
    session.close()


@pytest.fixture(scope="module")
def lp_api(lp_emulator, lp_session) -> LpApi:
    return LpApi(lp_emulator, lp_session)


@pytest.fixture(scope="module")
def lp_make_oauth1(lp_emulator):
    """Build OAuth1 signers with some keys replaced (wrong secret, unknown key...)."""
    info = lp_emulator.connection_info()
    return lambda **overrides: lp_oauth1(info, **overrides)


class SfApi:
    """Raw HTTP against the emulator's /services/data/v62.0, for what simple-salesforce hides."""

    def __init__(self, emulator: SalesforceEmulator, session: requests.Session, token: str):
        self.emulator = emulator
        self.session = session
        self.token = token

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        if path.startswith("http"):
            url = path
        elif path.startswith("/services/"):
            url = self.emulator.url + path
        else:
            url = f"{self.emulator.url}/services/data/v62.0{path}"
        return self.session.request(method, url, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def sf_api(sf_emulator, sf_session, sf_token) -> SfApi:
    return SfApi(sf_emulator, sf_session, sf_token)
