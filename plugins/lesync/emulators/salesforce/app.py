"""The Salesforce emulator's FastAPI app: OAuth, REST, Collections, composite queries, Bulk 2.0, limits,
controls.

Middleware, outermost first: trailing-slash normalization (simple-salesforce adds slashes),
fault injection and call counting (control.py), then the org gate: session check, request size
and the daily API limit, which stamps ``Sforce-Limit-Info`` on every /services/data response.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..control import CONTROL_PREFIX, install_control
from ..latency import install_latency
from .auth import JWT_GRANT, OAuthError, basic_credentials, bearer_token
from .bulk_routes import bulk_router
from .collections import collections_router
from .composite import composite_router
from .errors import SalesforceApiError, error
from .rest import rest_router, version_dependency, versions_router
from .sosl import search_router

if TYPE_CHECKING:
    from .state import SalesforceState

log = logging.getLogger(__name__)
DATA_PREFIX = "/services/data/v"


def error_body(status: int) -> list[dict[str, Any]]:
    """The body of an injected fault, as Salesforce would send it for that status."""
    known = {
        401: ("INVALID_SESSION_ID", "Session expired or invalid"),
        403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
        404: ("NOT_FOUND", "The requested resource does not exist"),
        429: ("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
        503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable, please retry."),
    }
    code, message = known.get(
        status,
        (
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact "
            "support: 1234567890-12345 (-1234567890)",
        ),
    )
    return [error(code, message)]


class TrailingSlash:
    """``/query/`` and ``/query`` are the same resource to Salesforce; strip the slash early."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and len(scope["path"]) > 1 and scope["path"].endswith("/"):
            scope = {**scope, "path": scope["path"].rstrip("/") or "/"}
            scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


class OrgGate:
    """Session, request size and API limit checks for every ``/services/data/vNN.N`` call."""

    def __init__(self, app: Any, state: SalesforceState):
        self.app = app
        self.state = state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(DATA_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not self.state.tokens.is_valid(bearer_token(headers.get("authorization"))):
            await _send_json(send, 401, [error("INVALID_SESSION_ID", "Session expired or invalid")])
            return
        too_large = self._too_large(scope["path"], headers.get("content-length"))
        if too_large:
            await _send_json(send, 413, [too_large])
            return
        accepted, used, maximum = self.state.limits.take()
        usage = [(b"sforce-limit-info", f"api-usage={used}/{maximum}".encode())]
        if not accepted:
            body = [error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")]
            await _send_json(send, 403, body, usage)
            return

        async def send_with_usage(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *usage]}
            await send(message)

        await self.app(scope, receive, send_with_usage)

    def _too_large(self, path: str, content_length: str | None) -> dict[str, Any] | None:
        config = self.state.config
        limit = config.max_bulk_upload_bytes if path.endswith("/batches") else config.max_request_bytes
        if content_length and content_length.isdigit() and int(content_length) > limit:
            return error(
                "REQUEST_ENTITY_TOO_LARGE",
                f"Maximum size of request reached. Maximum size of request is {limit} bytes.",
            )
        return None


async def _send_json(send: Any, status: int, body: Any, extra_headers: list | None = None) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json;charset=UTF-8"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": payload})


def token_router(state: SalesforceState) -> APIRouter:
    router = APIRouter()

    @router.post("/services/oauth2/token")
    async def token(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        instance_url = str(request.base_url).rstrip("/")
        try:
            _authenticate(state, form, request.headers.get("authorization"))
        except OAuthError as failure:
            return JSONResponse({"error": failure.code, "error_description": failure.description}, 400)
        return JSONResponse(state.tokens.issue(instance_url))

    return router


def _authenticate(state: SalesforceState, form: dict[str, str], authorization: str | None) -> None:
    grant = form.get("grant_type")
    if grant == "client_credentials":
        basic_id, basic_secret = basic_credentials(authorization)
        state.tokens.client_credentials(
            form.get("client_id") or basic_id, form.get("client_secret") or basic_secret
        )
    elif grant == JWT_GRANT:
        state.tokens.jwt_bearer(form.get("assertion"))
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")


class SalesforceFaults(BaseModel):
    bulk_job_fails: bool | str = False
    lock_rows: dict[str, int] = {}
    concurrent_limit: int = 0
    """The next N API calls answer 403 REQUEST_LIMIT_EXCEEDED ``ConcurrentPerOrgLongTxn``."""


class ApiUsage(BaseModel):
    used: int | None = None
    max: int | None = None


def control_router(state: SalesforceState) -> APIRouter:
    """``/_emulator/salesforce/...``: the in-process controls, over HTTP for other processes."""
    router = APIRouter(prefix=f"{CONTROL_PREFIX}/salesforce", tags=["emulator control"])

    @router.post("/expire-tokens", status_code=204)
    def expire_tokens() -> None:
        state.expire_tokens()

    @router.post("/faults")
    def faults(body: SalesforceFaults) -> dict[str, Any]:
        if body.bulk_job_fails:
            state.fail_next_bulk_job(body.bulk_job_fails if isinstance(body.bulk_job_fails, str) else None)
        if body.lock_rows:
            state.lock_rows(body.lock_rows)
        if body.concurrent_limit:
            state.limit_concurrent_requests(body.concurrent_limit)
        return {"lock_rows": state.locks.snapshot()}

    @router.post("/limits")
    def limits(body: ApiUsage) -> dict[str, int]:
        state.set_api_usage(body.used, body.max)
        return {"used": state.limits.used, "max": state.limits.max}

    @router.get("/limits")
    def get_limits() -> dict[str, int]:
        return {"used": state.limits.used, "max": state.limits.max}

    return router


def create_app(state: SalesforceState) -> FastAPI:
    app = FastAPI(
        title="lesync Salesforce emulator", docs_url="/_emulator/docs", openapi_url="/_emulator/openapi.json"
    )
    for router in (
        token_router(state),
        versions_router(state),
        collections_router(state),
        bulk_router(state),
        rest_router(state),
        search_router(state, version_dependency(state)),
        composite_router(state, version_dependency(state)),
        control_router(state),
    ):
        app.include_router(router)
    _install_error_handlers(app)
    app.add_middleware(OrgGate, state=state)
    install_latency(app, state, "salesforce", error_body)  # inside the counter, outside the org gate
    install_control(app, state.faults, state.calls, error_body)
    app.add_middleware(TrailingSlash)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SalesforceApiError)
    async def salesforce_error(request: Request, exc: SalesforceApiError) -> JSONResponse:
        return JSONResponse(exc.errors, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            body = [error("METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed.")]
        elif exc.status_code == 404:
            body = [error("NOT_FOUND", "The requested resource does not exist")]
        else:
            body = [error("UNKNOWN_EXCEPTION", str(exc.detail))]
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse([error("JSON_PARSER_ERROR", str(exc.errors())[:500])], status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("emulator bug on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(500), status_code=500)
