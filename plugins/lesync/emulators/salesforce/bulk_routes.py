"""HTTP routes of Bulk API 2.0 ingest (the job logic is in bulk.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from .errors import SalesforceApiError
from .rest import json_body, version_dependency

if TYPE_CHECKING:
    from .state import SalesforceState

RESULT_KINDS = ("successfulResults", "failedResults", "unprocessedrecords")


def bulk_router(state: SalesforceState) -> APIRouter:
    version_of = version_dependency(state)
    router = APIRouter(prefix="/services/data/v{version}/jobs/ingest")
    jobs = state.bulk

    @router.post("")
    async def create_job(request: Request, version: str = Depends(version_of)) -> dict[str, Any]:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise SalesforceApiError.of(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        return jobs.create(body, version)

    @router.get("")
    def list_jobs(version: str = Depends(version_of)) -> dict[str, Any]:
        return jobs.list()

    @router.get("/{job_id}")
    def get_job(job_id: str, version: str = Depends(version_of)) -> dict[str, Any]:
        return jobs.poll(job_id)

    @router.patch("/{job_id}")
    async def set_state(job_id: str, request: Request, version: str = Depends(version_of)) -> dict[str, Any]:
        body = await json_body(request)
        return jobs.set_state(job_id, (body or {}).get("state") if isinstance(body, dict) else None)

    @router.delete("/{job_id}", status_code=204)
    def delete_job(job_id: str, version: str = Depends(version_of)) -> Response:
        jobs.delete(job_id)
        return Response(status_code=204)

    @router.put("/{job_id}/batches", status_code=201)
    async def upload(job_id: str, request: Request, version: str = Depends(version_of)) -> Response:
        # Streamed to disk: a 150 MB upload is never held in memory. ``jobs.upload`` owns the file.
        path = jobs.new_upload_file()
        try:
            with open(path, "wb") as file:
                async for chunk in request.stream():
                    file.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        await run_in_threadpool(jobs.upload, job_id, path)
        return Response(status_code=201)

    for kind in RESULT_KINDS:
        _add_result_route(router, jobs, kind, version_of)
    return router


def _add_result_route(router: APIRouter, jobs: Any, kind: str, version_of: Any) -> None:
    @router.get(f"/{{job_id}}/{kind}", name=kind)
    def results(job_id: str, version: str = Depends(version_of)) -> Response:
        result = jobs.result_stream(job_id, kind)  # raises (400, 404) before anything is sent
        return StreamingResponse(
            result.blocks,
            media_type="text/csv; charset=UTF-8",
            headers={"content-length": str(result.length)},
        )
