"""sObject Collections: up to 200 records a call, HTTP 200 with one result per record, in order.

With ``allOrNone`` every write of the call shares one transaction; a single failure rolls all
back and the records that were fine report ALL_OR_NONE_OPERATION_ROLLED_BACK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from .errors import SalesforceApiError, as_collection_error, error
from .querying import render_record
from .rest import _external_field, _field_list, json_body, object_fields, version_dependency
from .store import WriteResult

if TYPE_CHECKING:
    from .state import SalesforceState

MAX_RECORDS = 200
ROLLED_BACK = error(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)


class _RollBackError(Exception):
    pass


def collections_router(state: SalesforceState) -> APIRouter:
    version_of = version_dependency(state)
    router = APIRouter(prefix="/services/data/v{version}/composite/sobjects")
    store = state.store

    @router.post("")
    async def create(request: Request, version: str = Depends(version_of)) -> list[dict[str, Any]]:
        all_or_none, records = _parse(await json_body(request))

        def write(record: dict[str, Any]) -> WriteResult:
            return store.create(_record_type(state, record), record)

        return await run_in_threadpool(_write_all, state, records, all_or_none, write, True)

    @router.patch("")
    async def update(request: Request, version: str = Depends(version_of)) -> list[dict[str, Any]]:
        all_or_none, records = _parse(await json_body(request))

        def write(record: dict[str, Any]) -> WriteResult:
            record_id = record.get("id") or record.get("Id")
            if not record_id:
                return WriteResult(errors=[error("MISSING_ARGUMENT", "Id not specified in an update call")])
            return store.update(_record_type(state, record), record_id, record)

        return await run_in_threadpool(_write_all, state, records, all_or_none, write, False)

    @router.patch("/{object_name}/{external_field}")
    async def upsert(
        object_name: str, external_field: str, request: Request, version: str = Depends(version_of)
    ) -> list[dict[str, Any]]:
        fields = object_fields(state, object_name)
        external = _external_field(fields, external_field)
        all_or_none, records = _parse(await json_body(request))

        def write(record: dict[str, Any]) -> WriteResult:
            key = next((k for k in record if k.lower() == external.lower()), external)
            return store.upsert(fields.name, external, record.get(key), record)

        return await run_in_threadpool(_write_all, state, records, all_or_none, write, True)

    @router.get("/{object_name}")
    def retrieve(object_name: str, request: Request, version: str = Depends(version_of)) -> list[Any]:
        fields = object_fields(state, object_name)
        names = _field_list(fields, request.query_params.get("fields"))
        ids = _ids(request)
        records = [store.get(fields.name, record_id) for record_id in ids]
        return [render_record(fields, r, version, names) if r else None for r in records]

    @router.delete("")
    def delete(request: Request, version: str = Depends(version_of)) -> list[dict[str, Any]]:
        ids = _ids(request)
        all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"

        def write(record: dict[str, Any]) -> WriteResult:
            object_name = store.object_of_id(record["id"])
            if object_name is None:
                return WriteResult(
                    id=record["id"], errors=[error("MALFORMED_ID", f"malformed id {record['id']}")]
                )
            return store.delete(object_name, record["id"])

        return _write_all(state, [{"id": i} for i in ids], all_or_none, write, False)

    return router


def _parse(body: Any) -> tuple[bool, list[dict[str, Any]]]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SalesforceApiError.of(400, "JSON_PARSER_ERROR", "The request body must have a records list")
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise SalesforceApiError.of(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )
    if not all(isinstance(r, dict) for r in records):
        raise SalesforceApiError.of(400, "JSON_PARSER_ERROR", "Every record must be a JSON object")
    return bool(body.get("allOrNone", False)), records


def _ids(request: Request) -> list[str]:
    ids = [i for i in (request.query_params.get("ids") or "").split(",") if i]
    if len(ids) > MAX_RECORDS:
        raise SalesforceApiError.of(
            400, "EXCEEDED_ID_LIMIT", "cannot submit more than 200 ids into this call"
        )
    return ids


def _record_type(state: SalesforceState, record: dict[str, Any]) -> str:
    name = (record.get("attributes") or {}).get("type")
    if not name or state.store.fields(name) is None:
        raise _MissingTypeError(name)
    return state.store.fields(name).name


class _MissingTypeError(Exception):
    def __init__(self, name: str | None):
        self.err = (
            error("INVALID_TYPE", f"sObject type '{name}' is not supported.")
            if name
            else error("INVALID_TYPE", "Must specify a type in attributes")
        )


def _write_all(
    state: SalesforceState,
    records: list[dict[str, Any]],
    all_or_none: bool,
    write: Callable[[dict[str, Any]], WriteResult],
    report_created: bool,
) -> list[dict[str, Any]]:
    """Write each record; with all_or_none, one shared transaction that rolls back on any failure."""
    results: list[WriteResult] = []
    try:
        with state.store.transaction():
            for record in records:
                results.append(_write_one(write, record))
            if all_or_none and any(not r.success for r in results):
                raise _RollBackError
    except _RollBackError:
        results = [r if not r.success else WriteResult(errors=[ROLLED_BACK]) for r in results]
    return [_result_json(r, report_created) for r in results]


def _write_one(write: Callable[[dict[str, Any]], WriteResult], record: dict[str, Any]) -> WriteResult:
    try:
        return write(record)
    except _MissingTypeError as missing:
        return WriteResult(errors=[missing.err])


def _result_json(result: WriteResult, report_created: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": result.id, "success": result.success}
    out["errors"] = [as_collection_error(e) for e in result.errors]
    if report_created:
        out["created"] = result.created
    return out
