"""The org's data in SQLite: one table per object, one column per field, readable with sqlite3.

Every write goes through ``_write``, which validates like an org (see validation.py), applies
custom validation rules, uniqueness, references and injected row locks, then stamps the system
fields. Callers group writes in ``transaction()``; a single lock makes the store thread-safe.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import files
from .errors import error
from .ids import make_id, normalize_id
from .schema import FieldDef, OrgSchema
from .validation import (
    InvalidValueError,
    ObjectFields,
    check_names,
    check_writable,
    coerce,
    missing_required,
    now_text,
)

ValidationRule = Callable[[dict[str, Any]], str | None]
"""A custom validation rule: gets the merged record, returns an error message or None."""

COLUMN_TYPES = {
    "double": "REAL",
    "int": "INTEGER",
    "boolean": "INTEGER",
    "base64": "BLOB",
    "datetime": "TEXT",
    "date": "TEXT",
    "reference": "TEXT",
    "id": "TEXT",
}


@dataclass
class WriteResult:
    """One record's outcome, as REST, Collections and Bulk report it."""

    id: str | None = None
    created: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.errors


class RowLocks:
    """Records (by id or external id value) that fail with UNABLE_TO_LOCK_ROW the next N writes."""

    def __init__(self) -> None:
        self._remaining: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, values: list[str] | dict[str, int], times: int = 1) -> None:
        items = values.items() if isinstance(values, dict) else ((v, times) for v in values)
        with self._lock:
            for value, count in items:
                self._remaining[str(value)] = int(count)

    def take(self, keys: list[str]) -> str | None:
        """The locked key among ``keys`` (consuming one failure), or None."""
        with self._lock:
            for key in keys:
                if self._remaining.get(key, 0) > 0:
                    self._remaining[key] -= 1
                    if not self._remaining[key]:
                        del self._remaining[key]
                    return key
        return None

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._remaining)


def column_type(definition: FieldDef) -> str:
    return COLUMN_TYPES.get(definition.type, "TEXT COLLATE NOCASE")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def auto_number(pattern: str, number: int) -> str:
    """``CT-{000000}`` with 42 -> ``CT-000042``."""
    return re.sub(r"\{(0+)\}", lambda m: str(number).zfill(len(m.group(1))), pattern)


class Store:
    """Thread-safe SQLite storage and the write rules of the org."""

    def __init__(self, db_path: Path, schema: OrgSchema, locks: RowLocks | None = None):
        self.db_path = Path(db_path)
        self.schema = schema
        self.locks = locks or RowLocks()
        self.validation_rules: dict[str, list[ValidationRule]] = {}
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._fields = {name: ObjectFields(name, obj) for name, obj in schema.objects.items()}
        self._fields_by_lower = {name.lower(): fields for name, fields in self._fields.items()}
        self._booleans = {
            name: [f for f, d in obj.fields.items() if d.type == "boolean"]
            for name, obj in schema.objects.items()
        }
        self._sql: dict[tuple, str] = {}  # generated INSERT / UPDATE statements, by object and columns
        self._next_number: dict[str, int] = {}
        for name in schema.objects:
            self._ensure_table(name)

    # -- schema ---------------------------------------------------------------------------

    def _ensure_table(self, name: str) -> None:
        definition = self.schema.objects[name]
        columns = [
            "Id TEXT PRIMARY KEY",
            "CreatedDate TEXT",
            "LastModifiedDate TEXT",
            "SystemModstamp TEXT",
            "IsDeleted INTEGER NOT NULL DEFAULT 0",
        ]
        columns += [f"{quote(f)} {column_type(d)}" for f, d in definition.fields.items()]
        self._conn.execute(f"CREATE TABLE IF NOT EXISTS {quote(name)} ({', '.join(columns)})")
        present = {row["name"] for row in self._conn.execute(f"PRAGMA table_info({quote(name)})")}
        for field_name, field_def in definition.fields.items():
            if field_name not in present:
                self._conn.execute(
                    f"ALTER TABLE {quote(name)} ADD COLUMN {quote(field_name)} {column_type(field_def)}"
                )
        for field_name, field_def in definition.fields.items():
            if field_def.external_id or field_def.unique or field_def.type == "reference":
                self._conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {quote(f'ix_{name}_{field_name}')} "
                    f"ON {quote(name)} ({quote(field_name)})"
                )
        row = self._conn.execute(f"SELECT MAX(rowid) FROM {quote(name)}").fetchone()
        self._next_number[name] = (row[0] or 0) + 1

    def fields(self, object_name: str) -> ObjectFields | None:
        if not isinstance(object_name, str):
            canonical = self.schema.canonical_name(object_name)
            return self._fields.get(canonical) if canonical else None
        found = self._fields.get(object_name)
        if found is not None:
            return found
        return self._fields_by_lower.get(object_name.lower())

    # -- transactions and reads -----------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or, on an exception, not at all. Re-entrant."""
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._conn.execute("BEGIN")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outermost:
                self._conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def records(self, object_name: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every record of an object, as stored (booleans as bool, files as bytes)."""
        fields = self.fields(object_name)
        where = "" if include_deleted else " WHERE IsDeleted = 0"
        rows = self.execute(f"SELECT * FROM {quote(fields.name)}{where} ORDER BY rowid")
        return [self.to_record(fields, row) for row in rows]

    def count(self, object_name: str) -> int:
        fields = self.fields(object_name)
        return self.execute(f"SELECT COUNT(*) FROM {quote(fields.name)} WHERE IsDeleted = 0")[0][0]

    def get(self, object_name: str, record_id: str, include_deleted: bool = False) -> dict[str, Any] | None:
        fields = self.fields(object_name)
        record_id = normalize_id(record_id) if isinstance(record_id, str) else None
        if fields is None or record_id is None:
            return None
        rows = self.execute(f"SELECT * FROM {quote(fields.name)} WHERE Id = ?", (record_id,))
        if not rows or (rows[0]["IsDeleted"] and not include_deleted):
            return None
        return self.to_record(fields, rows[0])

    def find_ids(self, object_name: str, field_name: str, value: Any) -> list[str]:
        fields = self.fields(object_name)
        rows = self.execute(
            f"SELECT Id FROM {quote(fields.name)} WHERE {quote(field_name)} = ? AND IsDeleted = 0 "
            "ORDER BY rowid",
            (value,),
        )
        return [row[0] for row in rows]

    def to_record(self, fields: ObjectFields, row: sqlite3.Row) -> dict[str, Any]:
        record = dict(zip(row.keys(), row, strict=True))
        record["IsDeleted"] = bool(record["IsDeleted"])
        for name in self._booleans[fields.name]:
            record[name] = bool(record[name])
        return record

    def exists(self, object_name: str, record_id: str) -> bool:
        """``get(object_name, record_id) is not None`` without reading the record."""
        fields = self.fields(object_name)
        record_id = normalize_id(record_id) if isinstance(record_id, str) else None
        if fields is None or record_id is None:
            return False
        rows = self.execute(f"SELECT IsDeleted FROM {quote(fields.name)} WHERE Id = ?", (record_id,))
        return bool(rows) and not rows[0][0]

    def object_of_id(self, record_id: str) -> str | None:
        return self.schema.object_for_prefix(record_id)

    # -- writes ---------------------------------------------------------------------------

    def create(self, object_name: str, values: dict[str, Any], text_cap: int | None = None) -> WriteResult:
        with self.transaction():
            return self._write(self.fields(object_name), None, values, text_cap)

    def update(
        self, object_name: str, record_id: str, values: dict[str, Any], text_cap: int | None = None
    ) -> WriteResult:
        fields = self.fields(object_name)
        with self.transaction():
            existing = self.get(fields.name, record_id) if isinstance(record_id, str) else None
            if existing is None:
                return WriteResult(id=record_id, errors=[_missing_record(record_id)])
            return self._write(fields, existing, values, text_cap)

    def upsert(
        self,
        object_name: str,
        external_field: str,
        external_value: Any,
        values: dict[str, Any],
        text_cap: int | None = None,
    ) -> WriteResult:
        """Update the record whose ``external_field`` equals the value, or create one."""
        fields = self.fields(object_name)
        values = {k: v for k, v in values.items() if fields.canonical(k) != external_field}
        if external_value in (None, ""):
            return WriteResult(
                errors=[error("MISSING_ARGUMENT", f"{external_field} not specified", [external_field])]
            )
        with self.transaction():
            if external_field == "Id":
                existing = self.get(fields.name, str(external_value))
                if existing is None:
                    return WriteResult(errors=[_missing_record(str(external_value))])
                return self._write(fields, existing, values, text_cap)
            rows = self.execute(
                f"SELECT * FROM {quote(fields.name)} WHERE {quote(external_field)} = ? AND IsDeleted = 0 "
                "ORDER BY rowid",
                (str(external_value),),
            )
            if len(rows) > 1:
                matches = [row["Id"] for row in rows]
                return WriteResult(
                    errors=[_duplicate_external_id(external_field, matches)], duplicates=matches
                )
            if rows:
                return self._write(fields, self.to_record(fields, rows[0]), values, text_cap)
            # No record has this value (just looked): the uniqueness check need not look again.
            free = (external_field, str(external_value))
            return self._write(fields, None, {**values, external_field: external_value}, text_cap, free)

    def delete(self, object_name: str, record_id: str) -> WriteResult:
        fields = self.fields(object_name)
        with self.transaction():
            existing = self.get(fields.name, record_id) if isinstance(record_id, str) else None
            if existing is None:
                return WriteResult(id=record_id, errors=[_missing_record(record_id)])
            locked = self.locks.take(_lock_keys(fields, existing))
            if locked:
                return WriteResult(id=existing["Id"], errors=[_lock_error(existing["Id"])])
            self._conn.execute(
                f"UPDATE {quote(fields.name)} SET IsDeleted = 1, SystemModstamp = ? WHERE Id = ?",
                (now_text(), existing["Id"]),
            )
            return WriteResult(id=existing["Id"])

    def insert_system(self, object_name: str, values: dict[str, Any]) -> str:
        """Insert a record the org creates itself (no validation): ContentDocument, links."""
        fields = self.fields(object_name)
        with self.transaction():
            return self._insert(fields, values)

    def set_system(self, object_name: str, record_id: str, values: dict[str, Any]) -> None:
        """Change fields the org maintains itself (IsLatest, LatestPublishedVersionId)."""
        fields = self.fields(object_name)
        assignments = ", ".join(f"{quote(k)} = ?" for k in values)
        with self.transaction():
            self._conn.execute(
                f"UPDATE {quote(fields.name)} SET {assignments}, SystemModstamp = ? WHERE Id = ?",
                (*(_db_value(v) for v in values.values()), now_text(), record_id),
            )

    def _write(
        self,
        fields: ObjectFields,
        existing: dict[str, Any] | None,
        values: dict[str, Any],
        text_cap: int | None,
        free: tuple[str, str] | None = None,
    ) -> WriteResult:
        """``free``: (field, value) known to be on no record, so not looked up for uniqueness."""
        record_id = existing["Id"] if existing else None
        try:
            clean = self._clean_values(fields, values, creating=existing is None, text_cap=text_cap)
            merged = {**(existing or self._defaults(fields)), **clean}
            self._check_record(fields, merged, clean, record_id, free)
        except _RejectedError as rejected:
            return WriteResult(id=record_id, errors=rejected.errors)
        locked = self.locks.take(_lock_keys(fields, merged))
        if locked:
            return WriteResult(id=record_id, errors=[_lock_error(record_id or locked)])
        if existing is None:
            files.before_insert(self, fields.name, merged)
            record_id = self._insert(fields, merged)
            files.after_insert(self, fields.name, record_id, merged)
            return WriteResult(id=record_id, created=True)
        self._update_row(fields, record_id, clean)
        return WriteResult(id=record_id)

    def _clean_values(
        self, fields: ObjectFields, values: dict[str, Any], creating: bool, text_cap: int | None
    ) -> dict[str, Any]:
        given = {k: v for k, v in values.items() if k not in ("attributes", "Id", "id")}
        names, errors = check_names(fields, list(given))
        if errors:
            raise _RejectedError(errors)
        errors = check_writable(fields, list(names.values()), creating)
        if errors:
            raise _RejectedError(errors)
        clean: dict[str, Any] = {}
        for given_name, value in given.items():
            name = names[given_name]
            try:
                clean[name] = coerce(fields, name, None if value == "" else value, text_cap)
            except InvalidValueError as problem:
                raise _RejectedError([problem.err]) from None
        return clean

    def _defaults(self, fields: ObjectFields) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        for name, definition in fields.definition.fields.items():
            if definition.default is not None:
                defaults[name] = definition.default
            elif definition.type == "boolean":
                defaults[name] = False
        return defaults

    def _check_record(
        self,
        fields: ObjectFields,
        merged: dict[str, Any],
        clean: dict[str, Any],
        record_id: str | None,
        free: tuple[str, str] | None = None,
    ) -> None:
        errors = files.missing_content(fields.name, merged, creating=record_id is None)
        errors = errors or missing_required(fields, merged)
        errors = errors or self._reference_errors(fields, clean)
        errors = errors or self._rule_errors(fields, merged)
        errors = errors or self._duplicate_errors(fields, clean, record_id, free)
        if errors:
            raise _RejectedError(errors)

    def _reference_errors(self, fields: ObjectFields, clean: dict[str, Any]) -> list[dict[str, Any]]:
        for name, value in clean.items():
            definition = fields.field(name)
            if definition.type != "reference" or value is None:
                continue
            target = self.object_of_id(value)
            if target not in definition.reference_to:
                return [
                    error(
                        "MALFORMED_ID", f"{fields.label(name)}: id value of incorrect type: {value}", [name]
                    )
                ]
            if not self.exists(target, value):
                return [
                    error(
                        "INVALID_CROSS_REFERENCE_KEY",
                        f"invalid cross reference id: {value}",
                        [name],
                    )
                ]
        return []

    def _rule_errors(self, fields: ObjectFields, merged: dict[str, Any]) -> list[dict[str, Any]]:
        for rule in self.validation_rules.get(fields.name, []):
            message = rule(dict(merged))
            if message:
                return [error("FIELD_CUSTOM_VALIDATION_EXCEPTION", message, [])]
        return []

    def _duplicate_errors(
        self,
        fields: ObjectFields,
        clean: dict[str, Any],
        record_id: str | None,
        free: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        for name, value in clean.items():
            if value is None or not fields.field(name).unique or (name, value) == free:
                continue
            others = [i for i in self.find_ids(fields.name, name, value) if i != record_id]
            if others:
                return [
                    error(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {name} duplicates value on record with id: {others[0]}",
                        [name],
                    )
                ]
        return []

    def _insert(self, fields: ObjectFields, values: dict[str, Any]) -> str:
        number = self._next_number[fields.name]
        self._next_number[fields.name] = number + 1
        record_id = make_id(fields.definition.key_prefix, number)
        stamp = now_text()
        row = {k: v for k, v in values.items() if fields.field(k) is not None}
        for name, definition in fields.definition.fields.items():
            if definition.auto_number:
                row[name] = auto_number(definition.auto_number, number)
        row.update(Id=record_id, CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp)
        key = ("insert", fields.name, *row)
        sql = self._sql.get(key)
        if sql is None:
            columns = ", ".join(["rowid", *map(quote, row)])
            marks = ", ".join("?" * (len(row) + 1))
            sql = self._remember_sql(key, f"INSERT INTO {quote(fields.name)} ({columns}) VALUES ({marks})")
        self._conn.execute(sql, (number, *(_db_value(v) for v in row.values())))
        return record_id

    def _remember_sql(self, key: tuple, sql: str) -> str:
        if len(self._sql) < 4096:  # column sets are few in practice; do not grow without bound
            self._sql[key] = sql
        return sql

    def _update_row(self, fields: ObjectFields, record_id: str, clean: dict[str, Any]) -> None:
        stamp = now_text()
        row = {**clean, "LastModifiedDate": stamp, "SystemModstamp": stamp}
        key = ("update", fields.name, *row)
        sql = self._sql.get(key)
        if sql is None:
            assignments = ", ".join(f"{quote(k)} = ?" for k in row)
            sql = self._remember_sql(key, f"UPDATE {quote(fields.name)} SET {assignments} WHERE Id = ?")
        self._conn.execute(sql, (*(_db_value(v) for v in row.values()), record_id))


class _RejectedError(Exception):
    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors
        super().__init__(str(errors))


def _db_value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _lock_keys(fields: ObjectFields, record: dict[str, Any]) -> list[str]:
    keys = [record["Id"]] if record.get("Id") else []
    for name, definition in fields.definition.fields.items():
        if definition.external_id and record.get(name) not in (None, ""):
            keys.append(str(record[name]))
    return keys


def _lock_error(record_id: str) -> dict[str, Any]:
    return error(
        "UNABLE_TO_LOCK_ROW",
        f"unable to obtain exclusive access to this record or 1 records: {record_id}",
    )


def _missing_record(record_id: str) -> dict[str, Any]:
    if normalize_id(record_id or "") is None:
        return error("MALFORMED_ID", f"malformed id {record_id}", ["Id"])
    return error("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {record_id}", ["Id"])


def _duplicate_external_id(field_name: str, matches: list[str]) -> dict[str, Any]:
    return error(
        "DUPLICATE_EXTERNAL_ID",
        f"{field_name}: more than one record found for external id field: [{', '.join(matches)}]",
        [field_name],
    )
