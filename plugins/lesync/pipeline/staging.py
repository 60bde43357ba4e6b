"""Staged files between stages: gzip JSON lines under an object-storage root.

Stages hand each other paths, never payloads (XCom stays small, memory stays flat). The root is
an ``ObjectStoragePath``: a local folder by default, ``s3://`` or ``gs://`` in production, with
credentials from an Airflow connection (``conn_id``), never from the files themselves.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from airflow.sdk import ObjectStoragePath

STAGING_ENV = "LESYNC_STAGING_ROOT"


def default_root() -> str:
    """``$LESYNC_STAGING_ROOT``, else ``file://$AIRFLOW_HOME/lesync/staging``."""
    configured = os.environ.get(STAGING_ENV)
    if configured:
        return configured
    airflow_home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return f"file://{(airflow_home / 'lesync' / 'staging').resolve()}"


def as_path(location: str | os.PathLike | ObjectStoragePath, conn_id: str | None = None) -> ObjectStoragePath:
    """Any staging location (URL, local path, or path object) as an ``ObjectStoragePath``."""
    if isinstance(location, ObjectStoragePath):
        return location
    text = os.fspath(location)
    if "://" not in text:
        text = f"file://{Path(text).resolve()}"
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)


_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def safe_name(text: str) -> str:
    """A run id such as ``manual__2026-11-24T10:00:00+00:00`` made safe for every store."""
    return _UNSAFE.sub("_", text).strip("._-") or "run"


def run_folder(root: str | ObjectStoragePath, integration: str, run_id: str) -> ObjectStoragePath:
    """``<root>/<integration>/<run id>``: everything one DAG run stages, removable as one."""
    return as_path(root) / safe_name(integration) / safe_name(run_id)


def write_jsonl_gz(path: str | ObjectStoragePath, records: Iterable[dict[str, Any]]) -> int:
    """Write records as gzip JSON lines; returns how many. Written whole or not at all."""
    with JsonlGzWriter(path) as writer:
        for record in records:
            writer.write(record)
    return writer.count


def read_jsonl_gz(path: str | ObjectStoragePath) -> Iterator[dict[str, Any]]:
    """Records of one staged file, one at a time."""
    target = as_path(path)
    with target.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


class JsonlGzWriter:
    """Streams records into ``<path>``; the file appears only when the writer closes cleanly.

    A temporary name plus a rename keeps a half-written file from ever looking complete, so a
    task retried after a crash starts again from nothing instead of reading a torn file.
    """

    def __init__(self, path: str | ObjectStoragePath):
        self.path = as_path(path)
        self.count = 0
        self._tmp = self.path.parent / f".{self.path.name}.partial"
        self._raw: Any = None
        self._gz: gzip.GzipFile | None = None
        self._text: io.TextIOWrapper | None = None

    def __enter__(self) -> JsonlGzWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = self._tmp.open("wb")
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=5)
        self._text = io.TextIOWrapper(self._gz, encoding="utf-8", newline="\n")
        return self

    def write(self, record: dict[str, Any]) -> None:
        assert self._text is not None, "use JsonlGzWriter as a context manager"
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (LivePerson JSON may carry "\ud83d" alone) has no UTF-8 form:
            # escape it as JSON does, so the record is staged untouched and reads back equal.
            line = json.dumps(record, ensure_ascii=True, separators=(",", ":"))
        self._text.write(line)
        self._text.write("\n")
        self.count += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._text is not None and self._raw is not None
        self._text.close()
        self._raw.close()
        if exc_type is None:
            self._tmp.rename(self.path)
        else:
            self._tmp.unlink(missing_ok=True)
