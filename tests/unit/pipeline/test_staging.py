"""Staged files: round trip, atomicity, run folders."""

from __future__ import annotations

import gzip

import pytest

from lesync.pipeline.staging import (
    JsonlGzWriter,
    as_path,
    default_root,
    read_jsonl_gz,
    run_folder,
    safe_name,
    write_jsonl_gz,
)


def test_round_trip_keeps_unicode_and_order(tmp_path):
    records = [{"i": i, "text": "שלום 😀 مرحبا\nline"} for i in range(250)]
    path = as_path(tmp_path) / "raw" / "chat-0-0000.jsonl.gz"
    assert write_jsonl_gz(path, records) == 250
    assert list(read_jsonl_gz(path)) == records
    assert list(read_jsonl_gz(str(tmp_path / "raw" / "chat-0-0000.jsonl.gz"))) == records


def test_a_failed_write_leaves_no_file(tmp_path):
    target = as_path(tmp_path) / "rows.jsonl.gz"
    with pytest.raises(RuntimeError), JsonlGzWriter(target) as writer:
        writer.write({"a": 1})
        raise RuntimeError("crash mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_files_are_plain_gzip_json_lines(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    write_jsonl_gz(str(path), [{"a": 1}, {"b": "ü"}])
    assert gzip.decompress(path.read_bytes()).decode() == '{"a":1}\n{"b":"ü"}\n'


def test_run_folder_is_safe_for_object_stores(tmp_path):
    folder = run_folder(str(tmp_path), "emea chat", "manual__2026-11-24T10:00:00+00:00")
    assert folder.name == "manual__2026-11-24T10_00_00_00_00"
    assert folder.parent.name == "emea_chat"
    assert safe_name("../../etc") == "etc"
    assert safe_name("..") == "run"


def test_default_root_follows_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("LESYNC_STAGING_ROOT", "s3://bucket/lesync")
    assert default_root() == "s3://bucket/lesync"
    monkeypatch.delenv("LESYNC_STAGING_ROOT")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert default_root() == f"file://{tmp_path}/lesync/staging"


def test_a_lone_surrogate_is_staged_untouched(tmp_path):
    import json

    record = json.loads('{"text": "half an emoji \\ud83d here", "ok": "😀"}')
    path = tmp_path / "raw.jsonl.gz"
    assert write_jsonl_gz(str(path), [record, {"plain": 1}]) == 2
    assert list(read_jsonl_gz(str(path))) == [record, {"plain": 1}]
