"""Service discovery: looked up at run time, once per process and service."""

from __future__ import annotations

from lpfake import ACCOUNT, DOMAIN

from lesync.liveperson import LivePersonClient
from lesync.liveperson.discovery import base_url


def test_discovered_once_per_process_and_service(fake, make_settings):
    first = LivePersonClient(make_settings())
    second = LivePersonClient(make_settings())
    assert first.service_url("engHistDomain") == "https://enghist.test"
    assert second.service_url("engHistDomain") == "https://enghist.test"
    assert second.service_url("msgHist") == "https://msghist.test"
    discovery_calls = [r for r in fake.mocker.request_history if "baseURI.json" in r.url]
    assert [r.qs for r in discovery_calls] == [{"version": ["1.0"]}] * 2
    assert first.stats["discovery"] == 1 and second.stats["discovery"] == 1


def test_cache_is_keyed_by_account_too():
    calls = []

    def lookup(url):
        calls.append(url)
        return {"baseURI": f"host{len(calls)}.example"}

    assert base_url(DOMAIN, ACCOUNT, "msgHist", lookup) == "https://host1.example"
    assert base_url(DOMAIN, ACCOUNT, "msgHist", lookup) == "https://host1.example"
    assert base_url(DOMAIN, "other", "msgHist", lookup) == "https://host2.example"
    assert calls == [
        f"{DOMAIN}/api/account/{ACCOUNT}/service/msgHist/baseURI.json",
        f"{DOMAIN}/api/account/other/service/msgHist/baseURI.json",
    ]


def test_base_uris_list_answer_is_understood():
    body = {"baseURIs": [{"service": "x", "baseURI": "a"}, {"service": "msgHist", "baseURI": "b.lp.net"}]}
    assert base_url("https://d", "acc", "msgHist", lambda url: body) == "https://b.lp.net"
