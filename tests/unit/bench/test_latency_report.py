"""bench/run.py under a latency profile: the issue's targets, (b)'s silent failures, the
LivePerson call bound, and the results file named after the profile (no emulators started)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from bench.run import latency_name, liveperson_call_check, markdown, summarise  # noqa: E402
from tests.unit.bench.test_run_report import made_up_run  # noqa: E402


def _extract(total: int, partial: int = 3, pages: int = 50) -> dict:
    by_endpoint = {
        "GET /api/account/{account_id}/service/{service}/baseURI.json": 2,
        "POST /interaction_history/api/account/{account_id}/interactions/search": 30,
        "POST /messaging_history/api/account/{account_id}/conversations/search": 20,
    }
    return {
        "pages": pages,
        "partial_refetched": partial,
        "retries": 0,
        "emulator_calls": {"liveperson": total, "liveperson_by_endpoint": by_endpoint},
    }


def test_liveperson_call_bound_is_pages_plus_discovery_plus_partials():
    check = liveperson_call_check(_extract(total=55))
    assert check["bound"] == 50 + 2 + 3 and check["met"]
    assert not liveperson_call_check(_extract(total=56))["met"]  # one retry too many


def _report(latency: str) -> dict:
    results = made_up_run()
    lp = _extract(total=700, partial=40, pages=658)
    results["extract"]["emulator_calls"].update(lp.pop("emulator_calls"))
    results["extract"].update(lp)
    summary = summarise(results, "field", latency=latency)
    machine = {"cpu": "X", "cores": 2, "memory_gib": 8, "python": "3.11", "date": "today"}
    return {"command": "python bench/run.py", "machine": machine, "results": results, "summary": summary}


def test_realistic_targets_are_50x_and_faster_than_the_operator():
    text = markdown(_report("realistic"))
    assert "latency profile `realistic`" in text
    assert "| load time, baseline (a) / ours | 5.0x | >= 50x | **not met** |" in text
    assert "| load time, baseline (b) / ours | 4.00x | > 1x | met |" in text
    assert (
        "| rows (b) failed without failing its task (silently) | 3 | 0 | **not met** (by the operator) |"
        in text
    )
    assert (
        "| LivePerson calls <= pages + discovery + 1 per partial record | 700 <= 658 + 2 + 40 = 700 |" in text
    )


def test_loopback_keeps_its_own_targets():
    text = markdown(_report("none"))
    assert "| load time, baseline (a) / ours | 5.0x | >= 5x | met |" in text
    assert "| load time, baseline (b) / ours | 4.00x | | |" in text


def test_results_file_is_named_after_the_profile():
    assert latency_name("none") == "none" and latency_name("realistic") == "realistic"
    assert latency_name("/tmp/profiles/slow-bulk.yaml") == "slow-bulk"
