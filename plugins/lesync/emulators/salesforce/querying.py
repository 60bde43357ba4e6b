"""Run parsed SOQL against the store: SQL translation, result pages and query locators.

SOQL's null semantics differ from SQL's: ``f != 'x'`` and ``f NOT IN (...)`` match nulls too.
The first call materializes the matching ids (a server-side cursor, like Salesforce's), so
``nextRecordsUrl`` pages stay stable while data changes.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .errors import SalesforceApiError
from .ids import normalize_id
from .schema import TEXT_TYPES, _relationship_name
from .soql import Condition, Query, Token, malformed, parse
from .store import Store, quote
from .validation import ObjectFields, parse_date, parse_datetime

PAGE_SIZE = 2000
#: SOQL follows at most five child-to-parent relationships in one field path.
MAX_RELATIONSHIP_HOPS = 5
MAX_LOCATORS = 200


@dataclass
class Column:
    """One selected field: a plain column, or ``a.b.field`` through references (up to 5 hops)."""

    name: str
    #: (reference field, relationship name) per hop, from the queried object outwards.
    hops: tuple[tuple[str, str], ...] = ()


@dataclass
class Cursor:
    query: Query
    fields: ObjectFields
    columns: list[Column]
    ids: list[str]


def invalid_field(name: str, object_name: str) -> SalesforceApiError:
    return SalesforceApiError.of(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{object_name}'. If you are attempting to use a custom field, "
        "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
        "describe call for the appropriate names.",
    )


class QueryService:
    def __init__(self, store: Store, page_size: int = PAGE_SIZE):
        self.store = store
        self.page_size = page_size
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    def run(self, text: str, version: str, include_deleted: bool = False) -> dict[str, Any]:
        query = parse(text or "")
        fields = self.store.fields(query.object_name)
        if fields is None:
            raise SalesforceApiError.of(
                400,
                "INVALID_TYPE",
                f"sObject type '{query.object_name}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name.",
            )
        _check_link_filter(fields.name, query.where)
        columns = [self._column(fields, name) for name in query.fields]
        where_sql, params = self._where(fields, query.where, include_deleted)
        if query.count_only:
            total = self._count(fields, where_sql, params, query)
            return {"totalSize": total, "done": True, "records": []}
        ids = self._matching_ids(fields, query, where_sql, params)
        cursor = Cursor(query, fields, columns, ids)
        return self._page(cursor, 0, version, "queryAll" if include_deleted else "query")

    def more(self, locator: str, version: str, resource: str) -> dict[str, Any]:
        key, _, position = locator.rpartition("-")
        with self._lock:
            cursor = self._cursors.get(key)
        if cursor is None or not position.isdigit():
            raise SalesforceApiError.of(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, int(position), version, resource, key)

    # -- translation ----------------------------------------------------------------------

    def _column(self, fields: ObjectFields, name: str) -> Column:
        if "." not in name:
            canonical = fields.canonical(name)
            if canonical is None:
                raise invalid_field(name, fields.name)
            return Column(canonical)
        *relationships, target_field = name.split(".")
        if len(relationships) > MAX_RELATIONSHIP_HOPS:
            raise invalid_field(name, fields.name)
        hops, objects = [], [fields]
        for relationship in relationships:
            hop, objects = self._hop(objects, relationship)
            if hop is None:
                raise invalid_field(name, fields.name)
            hops.append(hop)
        if not any(obj.canonical(target_field) for obj in objects):
            raise invalid_field(name, fields.name)
        return Column(target_field, tuple(hops))

    def _hop(
        self, objects: list[ObjectFields], relationship: str
    ) -> tuple[tuple[str, str] | None, list[ObjectFields]]:
        """The reference named ``relationship`` on any of ``objects``, and the objects it points to."""
        for obj in objects:
            reference = self._reference_for(obj, relationship)
            if reference is not None:
                targets = [self.store.fields(t) for t in obj.field(reference).reference_to]
                return (reference, _relationship_name(reference)), [t for t in targets if t]
        return None, []

    def _reference_for(self, fields: ObjectFields, relationship: str) -> str | None:
        for name, definition in fields.definition.fields.items():
            if definition.type == "reference" and _relationship_name(name).lower() == relationship.lower():
                return name
        return None

    def _target_field(self, object_name: str, field_name: str) -> str | None:
        target = self.store.fields(object_name)
        return target.canonical(field_name) if target else None

    def _where(
        self, fields: ObjectFields, condition: Condition | None, include_deleted: bool
    ) -> tuple[str, list[Any]]:
        params: list[Any] = []
        clauses = [] if include_deleted else ["IsDeleted = 0"]
        if condition is not None:
            clauses.append(self._condition_sql(fields, condition, params))
        return (" WHERE " + " AND ".join(f"({c})" for c in clauses)) if clauses else "", params

    def _condition_sql(self, fields: ObjectFields, node: Condition, params: list[Any]) -> str:
        if node.op in ("AND", "OR"):
            left, right = (self._condition_sql(fields, child, params) for child in node.children)
            return f"({left}) {node.op} ({right})"
        if node.op == "NOT":
            return f"NOT COALESCE(({self._condition_sql(fields, node.children[0], params)}), 0)"
        if "." in node.field:
            return self._relationship_condition(fields, node, params)
        name = fields.canonical(node.field)
        if name is None:
            raise invalid_field(node.field, fields.name)
        self._check_filterable(fields, name)
        return self._leaf_sql(fields, name, node, params)

    def _relationship_condition(self, fields: ObjectFields, node: Condition, params: list[Any]) -> str:
        """``Account__r.Name = 'x'`` as ``Account__c IN (SELECT Id FROM Account WHERE Name = 'x')``."""
        relationship, _, target_field = node.field.partition(".")
        reference = self._reference_for(fields, relationship)
        if reference is None:
            raise invalid_field(node.field, fields.name)
        selects = []
        for target in fields.field(reference).reference_to:
            target_fields = self.store.fields(target)
            name = target_fields.canonical(target_field) if target_fields else None
            if name is None:
                continue
            inner = Condition(node.op, name, node.value)
            sql = self._leaf_sql(target_fields, name, inner, params)
            selects.append(f"SELECT Id FROM {quote(target)} WHERE {sql}")
        if not selects:
            raise invalid_field(node.field, fields.name)
        return f"{quote(reference)} IN ({' UNION '.join(selects)})"

    def _check_filterable(self, fields: ObjectFields, name: str) -> None:
        definition = fields.field(name)
        long_text = definition is not None and definition.type == "textarea" and definition.length > 255
        if definition is not None and (definition.type == "base64" or long_text):
            raise SalesforceApiError.of(
                400, "INVALID_FIELD", f"field '{name}' can not be filtered in a query call"
            )

    def _leaf_sql(self, fields: ObjectFields, name: str, node: Condition, params: list[Any]) -> str:
        column = quote(name)
        if node.op in ("IN", "NOT IN"):
            values = [self._literal(fields, name, token) for token in node.value]
            params.extend(values)
            marks = ", ".join("?" * len(values))
            if node.op == "IN":
                return f"{column} IN ({marks})"
            return f"({column} IS NULL OR {column} NOT IN ({marks}))"
        if node.value.kind == "keyword" and node.value.text == "null":
            if node.op not in ("=", "!="):
                raise malformed(f"invalid operator on null for field '{name}'")
            return f"{column} IS {'NOT ' if node.op == '!=' else ''}NULL"
        value = self._literal(fields, name, node.value)
        params.append(value)
        if node.op == "LIKE":
            return f"{column} LIKE ? ESCAPE '\\'"
        if node.op == "!=":
            return f"({column} IS NULL OR {column} != ?)"
        return f"{column} {node.op} ?"

    def _literal(self, fields: ObjectFields, name: str, token: Token) -> Any:
        kind = _field_kind(fields, name)
        if kind == "boolean":
            if token.kind == "keyword" and token.text in ("true", "false"):
                return int(token.text == "true")
        elif kind in ("double", "int"):
            if token.kind == "number":
                return token.value
        elif kind == "datetime":
            if token.kind == "datetime":
                return parse_datetime(token.text)
        elif kind == "date":
            if token.kind == "date":
                return parse_date(token.text)
        elif kind in ("id", "reference"):
            if token.kind == "string":
                record_id = normalize_id(token.value)
                if record_id is None:
                    raise SalesforceApiError.of(
                        400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {token.value}"
                    )
                return record_id
        elif token.kind == "string":
            return token.value
        raise malformed(
            f"value of filter criterion for field '{name}' must be of type {kind} "
            "and should not be enclosed in quotes"
            if token.kind == "string"
            else f"value of filter criterion for field '{name}' must be of type {kind}"
        )

    # -- execution ------------------------------------------------------------------------

    def _count(self, fields: ObjectFields, where_sql: str, params: list[Any], query: Query) -> int:
        total = self.store.execute(f"SELECT COUNT(*) FROM {quote(fields.name)}{where_sql}", params)[0][0]
        total = max(0, total - query.offset)
        return min(total, query.limit) if query.limit is not None else total

    def _matching_ids(
        self, fields: ObjectFields, query: Query, where_sql: str, params: list[Any]
    ) -> list[str]:
        order = [self._order_sql(fields, item) for item in query.order_by] + ["rowid"]
        sql = f"SELECT Id FROM {quote(fields.name)}{where_sql} ORDER BY {', '.join(order)}"
        sql += f" LIMIT {query.limit if query.limit is not None else -1} OFFSET {query.offset}"
        return [row[0] for row in self.store.execute(sql, params)]

    def _order_sql(self, fields: ObjectFields, item: tuple[str, bool, str | None]) -> str:
        name, descending, nulls = item
        canonical = fields.canonical(name)
        if canonical is None:
            raise invalid_field(name, fields.name)
        nulls = nulls or ("last" if descending else "first")
        return f"{quote(canonical)} {'DESC' if descending else 'ASC'} NULLS {nulls.upper()}"

    def _page(
        self, cursor: Cursor, position: int, version: str, resource: str, key: str | None = None
    ) -> dict[str, Any]:
        page_ids = cursor.ids[position : position + self.page_size]
        records = self._render(cursor, page_ids, version)
        result: dict[str, Any] = {"totalSize": len(cursor.ids), "done": True, "records": records}
        next_position = position + len(page_ids)
        if next_position < len(cursor.ids):
            key = key or self._remember(cursor)
            result["done"] = False
            result["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{key}-{next_position}"
        return result

    def _remember(self, cursor: Cursor) -> str:
        key = f"01gEM{next(self._serial):010d}"
        with self._lock:
            self._cursors[key] = cursor
            while len(self._cursors) > MAX_LOCATORS:
                self._cursors.popitem(last=False)
        return key

    def _render(self, cursor: Cursor, ids: list[str], version: str) -> list[dict[str, Any]]:
        if not ids:
            return []
        rows = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            sql = f"SELECT * FROM {quote(cursor.fields.name)} WHERE Id IN ({', '.join('?' * len(chunk))})"
            rows.update({row["Id"]: row for row in self.store.execute(sql, chunk)})
        return [self._record(cursor, rows[i], version) for i in ids if i in rows]

    def _record(self, cursor: Cursor, row: Any, version: str) -> dict[str, Any]:
        record: dict[str, Any] = {"attributes": _attributes(cursor.fields.name, row["Id"], version)}
        for column in cursor.columns:
            if not column.hops:
                record[column.name] = _output(
                    cursor.fields, column.name, row[column.name], row["Id"], version
                )
            else:
                self._add_related(record, column, row, version)
        return record

    def _add_related(self, record: dict[str, Any], column: Column, row: Any, version: str) -> None:
        """``{"Rel": {"attributes", "Rel2": {..., "Field": value}}}``; a null reference ends the path."""
        container, current = record, row
        for index, (reference, relationship) in enumerate(column.hops):
            related_id = current[reference] if current is not None and reference in current.keys() else None
            if related_id is None:
                container.setdefault(relationship, None)
                return
            target = self.store.object_of_id(related_id)
            target_fields = self.store.fields(target) if target else None
            related = self.store.get(target, related_id) if target_fields else None
            nested = container.get(relationship) or {"attributes": _attributes(target, related_id, version)}
            container[relationship] = nested
            if index == len(column.hops) - 1:
                name = target_fields.canonical(column.name) if target_fields else None
                value = related.get(name) if related and name else None
                nested[name or column.name] = (
                    _output(target_fields, name, value, related_id, version) if name else None
                )
                return
            container, current = nested, related


#: ContentDocumentLink can only be queried by the ids it links (the SOQL reference's
#: "Implementation restriction" on ContentDocumentLink; api-facts "Files by record").
LINK_FILTER_FIELDS = frozenset({"id", "contentdocumentid", "linkedentityid"})


def _check_link_filter(object_name: str, where: Condition | None) -> None:
    if object_name == "ContentDocumentLink" and not _filters_by_id(where):
        raise malformed(
            "Implementation restriction: ContentDocumentLink requires a filter by a single Id on "
            "ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the "
            "IN operator."
        )


def _filters_by_id(node: Condition | None) -> bool:
    """An ``=`` or ``IN`` on a link id, alone or ANDed with other conditions."""
    if node is None:
        return False
    if node.op == "AND":
        return any(_filters_by_id(child) for child in node.children)
    return (node.field or "").lower() in LINK_FILTER_FIELDS and node.op.upper() in ("=", "IN")


def _field_kind(fields: ObjectFields, name: str) -> str:
    if name == "Id":
        return "id"
    if name == "IsDeleted":
        return "boolean"
    if name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        return "datetime"
    kind = fields.field(name).type
    return "string" if kind in TEXT_TYPES else kind


def _attributes(object_name: str, record_id: str, version: str) -> dict[str, str]:
    return {"type": object_name, "url": f"/services/data/v{version}/sobjects/{object_name}/{record_id}"}


def _output(fields: ObjectFields, name: str, value: Any, record_id: str, version: str) -> Any:
    """A stored value as the REST API prints it (base64 fields become a URL to the bytes)."""
    kind = _field_kind(fields, name)
    if value is None:
        return None
    if kind == "boolean":
        return bool(value)
    if kind == "double":
        return float(value)
    if kind == "base64":
        return f"/services/data/v{version}/sobjects/{fields.name}/{record_id}/{name}"
    return value


def render_record(fields: ObjectFields, record: dict[str, Any], version: str, names: list[str] | None = None):
    """A record for ``GET /sobjects/{Object}/{id}``: every field (or ``names``), REST-typed."""
    out: dict[str, Any] = {"attributes": _attributes(fields.name, record["Id"], version)}
    for name in names or ["Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp",
                          *fields.definition.fields]:  # fmt: skip
        out[name] = _output(fields, name, record.get(name), record["Id"], version)
    return out
