"""``python -m lesync state``: migrate, status, purge against the store $LESYNC_STATE_URL names."""

from __future__ import annotations

import json

from lesync.__main__ import main
from lesync.state import StateStore


def test_migrate_status_and_purge(monkeypatch, tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("LESYNC_STATE_URL", url)

    assert main(["state", "status", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert (before["revision"], before["up_to_date"]) == (None, False)

    assert main(["state", "migrate"]) == 0
    assert "at revision 0002 (head)" in capsys.readouterr().out
    assert main(["state", "migrate"]) == 0
    capsys.readouterr()

    StateStore(url).start_run("acme", "window", "r1", None, None)
    assert main(["state", "status"]) == 0
    out = capsys.readouterr().out
    assert "revision 0002 (head 0002)" in out
    assert "sync_runs            1" in out

    assert main(["state", "purge", "--ledger-days", "30"]) == 0
    assert '"runs": 0' in capsys.readouterr().out


def test_an_unreachable_store_is_one_line_without_the_password(monkeypatch, capsys) -> None:
    monkeypatch.setenv("LESYNC_STATE_URL", "postgresql+psycopg2://lesync:TopSecret99@127.0.0.1:1/lesync")

    assert main(["state", "migrate"]) == 1

    err = capsys.readouterr().err
    assert err.startswith(
        "lesync state migrate: state store postgresql+psycopg2://lesync:***@127.0.0.1:1/lesync"
    )
    assert "TopSecret99" not in err and "Traceback" not in err
