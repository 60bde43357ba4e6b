"""REST resources of the org: versions, describe, sObject rows, SOQL, limits.

Handlers are async only to read the body; the store work runs in the thread pool.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .errors import SalesforceApiError, not_found
from .querying import render_record
from .schema import describe_sobject
from .validation import ObjectFields

if TYPE_CHECKING:
    from .state import SalesforceState

RELEASES = {"62.0": "Winter '25", "61.0": "Summer '24", "60.0": "Spring '24", "59.0": "Winter '24"}


async def json_body(request: Request) -> Any:
    """The parsed JSON body; malformed JSON is a 400 JSON_PARSER_ERROR like the org's."""
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise SalesforceApiError.of(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from None


def version_dependency(state: SalesforceState):
    def check_version(version: str) -> str:
        if version not in state.config.versions():
            raise not_found()
        return version

    return check_version


def object_fields(state: SalesforceState, name: str) -> ObjectFields:
    fields = state.store.fields(name)
    if fields is None:
        raise SalesforceApiError.of(404, "NOT_FOUND", f"The requested resource does not exist: {name}")
    return fields


def versions_router(state: SalesforceState) -> APIRouter:
    router = APIRouter()

    @router.get("/services/data")
    def versions() -> list[dict[str, str]]:
        return [
            {"label": RELEASES.get(v, f"API {v}"), "url": f"/services/data/v{v}", "version": v}
            for v in state.config.versions()
        ]

    return router


def rest_router(state: SalesforceState) -> APIRouter:
    """sObject REST, describe, query and limits under ``/services/data/vNN.N``."""
    version_of = version_dependency(state)
    router = APIRouter(prefix="/services/data/v{version}")
    store = state.store

    @router.get("")
    def resources(version: str = Depends(version_of)) -> dict[str, str]:
        base = f"/services/data/v{version}"
        names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs/ingest")
        return {name.replace("jobs/", ""): f"{base}/{name}" for name in names}

    @router.get("/limits")
    def limits(version: str = Depends(version_of)) -> dict[str, Any]:
        return org_limits(state)

    @router.get("/sobjects")
    def describe_global(version: str = Depends(version_of)) -> dict[str, Any]:
        sobjects = []
        for name in state.schema.objects:
            described = describe_sobject(state.schema, name)
            described.pop("fields")
            sobjects.append(described)
        return {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects}

    @router.get("/sobjects/{object_name}/describe")
    def describe(object_name: str, version: str = Depends(version_of)) -> dict[str, Any]:
        described = describe_sobject(state.schema, object_name)
        if described is None:
            raise not_found(f"The requested resource does not exist: {object_name}")
        return described

    @router.get("/sobjects/{object_name}")
    def object_info(object_name: str, version: str = Depends(version_of)) -> dict[str, Any]:
        described = describe_sobject(state.schema, object_name) or {}
        if not described:
            raise not_found()
        described.pop("fields")
        return {"objectDescribe": described, "recentItems": []}

    @router.post("/sobjects/{object_name}", status_code=201)
    async def create(object_name: str, request: Request, version: str = Depends(version_of)) -> Any:
        fields = object_fields(state, object_name)
        body = await _record_body(request)
        result = await run_in_threadpool(store.create, fields.name, body)
        if result.errors:
            raise SalesforceApiError(400, result.errors)
        return {"id": result.id, "success": True, "errors": []}

    @router.get("/sobjects/{object_name}/{record_id}")
    def get_record(
        object_name: str, record_id: str, request: Request, version: str = Depends(version_of)
    ) -> Any:
        fields = object_fields(state, object_name)
        record = store.get(fields.name, record_id)
        if record is None:
            raise not_found()
        return render_record(fields, record, version, _field_list(fields, request.query_params.get("fields")))

    @router.patch("/sobjects/{object_name}/{record_id}", status_code=204)
    async def update(object_name: str, record_id: str, request: Request, version: str = Depends(version_of)):
        fields = object_fields(state, object_name)
        body = await _record_body(request)
        if store.get(fields.name, record_id) is None:
            raise not_found()
        result = await run_in_threadpool(store.update, fields.name, record_id, body)
        if result.errors:
            raise SalesforceApiError(400, result.errors)
        return Response(status_code=204)

    @router.delete("/sobjects/{object_name}/{record_id}", status_code=204)
    def delete(object_name: str, record_id: str, version: str = Depends(version_of)):
        fields = object_fields(state, object_name)
        if store.get(fields.name, record_id) is None:
            raise not_found()
        result = store.delete(fields.name, record_id)
        if result.errors:
            raise SalesforceApiError(400, result.errors)
        return Response(status_code=204)

    @router.get("/sobjects/{object_name}/{first}/{second}")
    def get_blob_or_by_external_id(
        object_name: str, first: str, second: str, request: Request, version: str = Depends(version_of)
    ) -> Any:
        fields = object_fields(state, object_name)
        blob_field = fields.canonical(second)
        if blob_field and fields.field(blob_field) and fields.field(blob_field).type == "base64":
            record = store.get(fields.name, first)
            if record is None:
                raise not_found()
            return Response(record.get(blob_field) or b"", media_type="application/octetstream")
        external = _external_field(fields, first)
        ids = store.find_ids(fields.name, external, second) if external != "Id" else [second]
        record = store.get(fields.name, ids[0]) if len(ids) == 1 else None
        if len(ids) > 1:
            return _multiple_choices(fields, ids, version)
        if record is None:
            raise not_found()
        return render_record(fields, record, version, _field_list(fields, request.query_params.get("fields")))

    @router.patch("/sobjects/{object_name}/{external_field}/{value}")
    async def upsert(
        object_name: str,
        external_field: str,
        value: str,
        request: Request,
        version: str = Depends(version_of),
    ) -> Any:
        fields = object_fields(state, object_name)
        external = _external_field(fields, external_field)
        body = await _record_body(request)
        result = await run_in_threadpool(store.upsert, fields.name, external, value, body)
        if result.duplicates:
            return _multiple_choices(fields, result.duplicates, version)
        if result.errors:
            raise SalesforceApiError(400, result.errors)
        return _upsert_answer(result.id, result.created, version)

    for resource, include_deleted in (("query", False), ("queryAll", True)):
        _add_query_routes(router, state, resource, include_deleted, version_of)
    return router


#: From API 46.0 an upsert that updates answers 200 with a body; before, 204 with none (api-facts).
UPSERT_UPDATE_BODY_SINCE = 46.0


def _upsert_answer(record_id: str, created: bool, version: str) -> Response:
    """201 with ``{id, success, errors, created: true}`` on insert; on update 200 with
    ``created: false`` (API 46.0 and later) or 204 without a body (45.0 and earlier)."""
    if not created and float(version) < UPSERT_UPDATE_BODY_SINCE:
        return Response(status_code=204)
    body = {"id": record_id, "success": True, "errors": [], "created": created}
    return JSONResponse(body, status_code=201 if created else 200)


def _add_query_routes(
    router: APIRouter, state: SalesforceState, resource: str, include_deleted: bool, version_of
):
    @router.get(f"/{resource}", name=resource)
    def query(request: Request, version: str = Depends(version_of)) -> Any:
        text = request.query_params.get("q")
        if not text:
            raise SalesforceApiError.of(400, "MALFORMED_QUERY", "A query string has to be specified")
        return state.queries.run(text, version, include_deleted)

    @router.get(f"/{resource}/{{locator}}", name=f"{resource}_more")
    def query_more(locator: str, version: str = Depends(version_of)) -> Any:
        return state.queries.more(locator, version, resource)


async def _record_body(request: Request) -> dict[str, Any]:
    """A record from JSON, or from a multipart upload (``entity_content`` + the binary part)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/"):
        form = await request.form()
        body = json.loads(await _part_text(form.get("entity_content") or form.get("entity_document") or "{}"))
        for key, part in form.multi_items():
            if key not in ("entity_content", "entity_document") and hasattr(part, "read"):
                body[key] = await part.read()
        return body
    body = await json_body(request)
    if not isinstance(body, dict):
        raise SalesforceApiError.of(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body


async def _part_text(part: Any) -> str:
    if hasattr(part, "read"):
        return (await part.read()).decode("utf-8")
    return str(part)


def _field_list(fields: ObjectFields, requested: str | None) -> list[str] | None:
    if not requested:
        return None
    names = []
    for name in requested.split(","):
        canonical = fields.canonical(name.strip())
        if canonical is None:
            raise SalesforceApiError.of(
                400, "INVALID_FIELD", f"No such column '{name.strip()}' on sobject of type {fields.name}"
            )
        names.append(canonical)
    return names


def _external_field(fields: ObjectFields, name: str) -> str:
    canonical = fields.canonical(name)
    if canonical is None:
        raise not_found(f"Provided external ID field does not exist or is not accessible: {name}")
    definition = fields.field(canonical)
    if canonical != "Id" and (definition is None or not definition.external_id):
        raise SalesforceApiError.of(
            400, "INVALID_FIELD", f"Field {canonical} is not an external id or the Id field", [canonical]
        )
    return canonical


def _multiple_choices(fields: ObjectFields, ids: list[str], version: str) -> JSONResponse:
    """HTTP 300: the external id matched several records; Salesforce lists their URLs."""
    return JSONResponse(
        [f"/services/data/v{version}/sobjects/{fields.name}/{i}" for i in ids], status_code=300
    )


def org_limits(state: SalesforceState) -> dict[str, Any]:
    used, maximum = state.limits.used, state.limits.max
    jobs = state.bulk.jobs_created
    versions = state.store.count("ContentVersion") if state.store.fields("ContentVersion") else 0

    def limit(max_value: int, remaining: int) -> dict[str, int]:
        return {"Max": max_value, "Remaining": max(0, remaining)}

    return {
        "DailyApiRequests": limit(maximum, maximum - used),
        "DailyBulkApiBatches": limit(15_000, 15_000 - jobs),
        "DailyBulkV2QueryJobs": limit(10_000, 10_000),
        "DailyBulkV2QueryFileStorageMB": limit(1_000_000, 1_000_000),
        "ContentPublicationLimit": limit(200_000, 200_000 - versions),
        "DataStorageMB": limit(1_024, 1_024),
        "FileStorageMB": limit(10_240, 10_240),
    }
