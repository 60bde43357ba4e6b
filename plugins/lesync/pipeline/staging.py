"""Staged files between stages: gzip JSON lines under an object-storage root.

Stages hand each other paths, never payloads (XCom stays small, memory stays flat). The root is
an ``ObjectStoragePath``: a local folder by default, ``s3://`` or ``gs://`` in production, with
credentials from an Airflow connection (``conn_id``), never from the files themselves.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from airflow.sdk import ObjectStoragePath

from lesync.json_codec import decode, encode

STAGING_ENV = "LESYNC_STAGING_ROOT"

#: Read-ahead of the uncompressed lines: gzip's own 8 KB makes every line cost several small
#: reads through the object-storage file; 1 MB makes it a few per file (40 % less CPU per pass).
LINE_BUFFER = 1 << 20

#: gzip level of staged files: raw pages are kept for replay and audit, so they are packed well.
COMPRESSLEVEL = 5


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
    with gz_lines(path) as lines:
        for line in lines:
            if not line.isspace():
                yield decode(line)


@contextlib.contextmanager
def gz_lines(path: str | ObjectStoragePath) -> Iterator[io.BufferedReader]:
    """The uncompressed lines (bytes, ``\\n`` kept) of one staged gzip file, read ahead in 1 MB."""
    with (
        as_path(path).open("rb") as raw,
        gzip.GzipFile(fileobj=raw, mode="rb") as unzipped,
        io.BufferedReader(unzipped, LINE_BUFFER) as lines,
    ):
        yield lines


class JsonlGzWriter:
    """Streams records into ``<path>``; the file appears only when the writer closes cleanly.

    A temporary name plus a rename keeps a half-written file from ever looking complete, so a
    task retried after a crash starts again from nothing instead of reading a torn file.
    """

    def __init__(self, path: str | ObjectStoragePath, compresslevel: int = COMPRESSLEVEL):
        self.path = as_path(path)
        self.compresslevel = compresslevel
        self.count = 0
        self._tmp = self.path.parent / f".{self.path.name}.partial"
        self._raw: Any = None
        self._lines: io.BufferedWriter | None = None

    def __enter__(self) -> JsonlGzWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = self._tmp.open("wb")
        zipped = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=self.compresslevel)
        self._lines = io.BufferedWriter(zipped, LINE_BUFFER)  # compressed in 1 MB steps
        return self

    def write(self, record: dict[str, Any]) -> None:
        """One record as one line (``lesync.json_codec.encode``: a lone surrogate, which has no
        UTF-8 form, is escaped as JSON escapes it, so the record reads back equal)."""
        assert self._lines is not None, "use JsonlGzWriter as a context manager"
        self._lines.write(encode(record) + b"\n")
        self.count += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._lines is not None and self._raw is not None
        self._lines.close()
        self._raw.close()
        if exc_type is None:
            self._tmp.rename(self.path)
        else:
            self._tmp.unlink(missing_ok=True)
