"""The FastAPI app: Domain API, Sentinel, Engagement History, Messaging Interactions, and the
``/_emulator/liveperson`` controls. All services are served by this one server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from lesync.emulators.control import install_control
from lesync.emulators.latency import install_latency
from lesync.emulators.liveperson import search_api
from lesync.emulators.liveperson.chat import chat_record, transcript_text
from lesync.emulators.liveperson.errors import ApiError, error_body
from lesync.emulators.liveperson.messaging import Shape, message_text, messaging_record
from lesync.emulators.liveperson.state import LivePersonState, PageRule
from lesync.emulators.liveperson.store import CHAT, MESSAGING, Entry

SERVICES = ("engHistDomain", "msgHist", "sentinel", "liveEngageUI", "visitorFeed")
CHAT_PATH = "/interaction_history/api/account/{account_id}/interactions/search"
MESSAGING_PATH = "/messaging_history/api/account/{account_id}/conversations/search"
CONVERSATION_PATH = "/messaging_history/api/account/{account_id}/conversations/conversation/search"


@dataclass
class Call:
    """What the handlers need from a request, read on the event loop, used on a worker thread."""

    account_id: str
    method: str
    url: str
    base_url: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes


async def _call(request: Request, account_id: str) -> Call:
    return Call(
        account_id=account_id,
        method=request.method,
        url=str(request.url),
        base_url=f"{request.url.scheme}://{request.url.netloc}",
        path=request.url.path,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=await request.body(),
    )


_encoders = threading.local()


def encode_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON, the bytes of ``json.dumps(payload, ensure_ascii=False,
    separators=(",", ":")).encode()``, written by msgspec (about ten times faster on pages of
    records). The two agree on everything the records hold (str, int, bool, None, lists, dicts);
    they would differ only in how floats are spelled, and the records carry none."""
    encoder = getattr(_encoders, "encoder", None)
    if encoder is None:
        encoder = _encoders.encoder = msgspec.json.Encoder()
    try:
        return encoder.encode(payload)
    except (TypeError, OverflowError, msgspec.EncodeError):
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _json(payload: Any, status: int = 200) -> Response:
    return Response(encode_json(payload), status_code=status, media_type="application/json")


def create_app(state: LivePersonState) -> FastAPI:
    app = FastAPI(title="LivePerson emulator", docs_url="/_emulator/docs", redoc_url=None)
    _install_error_handlers(app)
    _add_domain_routes(app, state)
    _add_sentinel_route(app, state)
    _add_history_routes(app, state)
    _add_control_routes(app, state)
    install_latency(app, state, "liveperson", lambda status: error_body(status))  # inside the counter
    install_control(app, state.faults, state.calls, lambda status: error_body(status))
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        return _json(error_body(exc.status, exc.message), exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return _json(error_body(exc.status_code, str(exc.detail)), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        return _json(error_body(400, f"Invalid request: {exc.errors()}"), 400)


# --- Domain API ---------------------------------------------------------------------------------


def _domain_of(state: LivePersonState, request: Request) -> str:
    return state.public_domain or request.url.netloc


def _check_domain_request(state: LivePersonState, account_id: str, request: Request) -> None:
    version = request.query_params.get("version")
    if version is not None and version != "1.0":
        raise ApiError(400, f"Unsupported version {version!r}: use version=1.0")
    if account_id != state.config.account_id:
        raise ApiError(404, f"Account {account_id} not found")


def _add_domain_routes(app: FastAPI, state: LivePersonState) -> None:
    @app.get("/api/account/{account_id}/service/baseURI.json")
    def all_services(account_id: str, request: Request) -> Response:
        _check_domain_request(state, account_id, request)
        domain = _domain_of(state, request)
        uris = [{"service": s, "account": account_id, "baseURI": domain} for s in SERVICES]
        return _json({"baseURIs": uris})

    @app.get("/api/account/{account_id}/service/{service}/baseURI.json")
    def one_service(account_id: str, service: str, request: Request) -> Response:
        _check_domain_request(state, account_id, request)
        if service not in SERVICES:
            raise ApiError(
                404, f"Service {service!r} not found for account {account_id} (names are case-sensitive)"
            )
        return _json({"service": service, "account": account_id, "baseURI": _domain_of(state, request)})


# --- Sentinel -----------------------------------------------------------------------------------


def _add_sentinel_route(app: FastAPI, state: LivePersonState) -> None:
    @app.post("/sentinel/api/v2/account/{account_id}/app/token")
    async def token(account_id: str, request: Request) -> Response:
        if account_id != state.config.account_id:
            raise ApiError(401, f"invalid_client: no such client for account {account_id}")
        return _json(state.auth.issue_token(account_id, await request.body()))


# --- history searches ---------------------------------------------------------------------------


def _authorize(state: LivePersonState, call: Call) -> None:
    keyset = state.auth.authenticate(call.method, call.url, call.headers)
    if call.account_id != state.config.account_id:
        raise ApiError(401, f"API key is not valid for account {call.account_id}")
    state.auth.require_history_permission(keyset)


def _add_history_routes(app: FastAPI, state: LivePersonState) -> None:
    @app.post(CHAT_PATH)
    async def chat_search(account_id: str, request: Request) -> Response:
        call = await _call(request, account_id)
        return _json_bytes(await run_in_threadpool(chat_search_json, state, call))

    @app.post(MESSAGING_PATH)
    async def messaging_search(account_id: str, request: Request) -> Response:
        call = await _call(request, account_id)
        return _json_bytes(await run_in_threadpool(messaging_search_json, state, call))

    @app.post(CONVERSATION_PATH)
    async def conversation_by_id(account_id: str, request: Request) -> Response:
        call = await _call(request, account_id)
        return _json_bytes(await run_in_threadpool(conversations_by_id_json, state, call))


def _json_bytes(content: bytes) -> Response:
    return Response(content, media_type="application/json")


# A page is worked out first (checks, search, paging) as ``_metadata`` plus, per record, a cache
# key and a builder; then either built as dicts (in-process callers, tests) or serialised record
# by record through the state's RecordCache (HTTP). Both give the same JSON.
RecordSource = tuple[tuple, Callable[[], dict[str, Any]]]
Page = tuple[str, dict[str, Any], list[RecordSource]]


def chat_search_page(state: LivePersonState, call: Call) -> dict[str, Any]:
    """One page of ended chats; by ``engagementId`` the chat whole, whatever the time window."""
    return _page_dict(state, _chat_page(state, call), served=True)


def chat_search_json(state: LivePersonState, call: Call) -> bytes:
    return _page_json(state, _chat_page(state, call), served=True)


def messaging_search_page(state: LivePersonState, call: Call) -> dict[str, Any]:
    """One page of open and closed conversations; searches carry only the latest SDEs."""
    return _page_dict(state, _messaging_page(state, call), served=True)


def messaging_search_json(state: LivePersonState, call: Call) -> bytes:
    return _page_json(state, _messaging_page(state, call), served=True)


def conversations_by_id(state: LivePersonState, call: Call) -> dict[str, Any]:
    """Conversations by id, whole: every SDE, never partial."""
    return _page_dict(state, _conversations_by_id_page(state, call), served=False)


def conversations_by_id_json(state: LivePersonState, call: Call) -> bytes:
    return _page_json(state, _conversations_by_id_page(state, call), served=False)


def _page_dict(state: LivePersonState, page: Page, served: bool) -> dict[str, Any]:
    key, metadata, sources = page
    result = {"_metadata": metadata, key: [build() for _, build in sources]}
    if served:
        state.search_page_served()
    return result


def _page_json(state: LivePersonState, page: Page, served: bool) -> bytes:
    """The bytes of ``encode_json(_page_dict(...))``, each record taken from or put in the cache."""
    key, metadata, sources = page
    cache = state.record_cache
    records = [cache.get_or_make(k, lambda build=build: encode_json(build())) for k, build in sources]
    if served:
        state.search_page_served()
    return b"".join(
        (b'{"_metadata":', encode_json(metadata), b',"', key.encode(), b'":[', b",".join(records), b"]}")
    )


def _chat_page(state: LivePersonState, call: Call) -> Page:
    _authorize(state, call)
    paging = search_api.parse_paging(call.query, source_required=False)
    body = search_api.parse_body(call.body)
    now, account = state.clock.now(), state.config.account_id
    if body.get("engagementId") not in (None, ""):
        # start is required here too; engagementId only lifts the length limit.
        start_from, start_to = search_api.parse_window(body, max_days=None)
        entry = state.store.find(CHAT, str(body["engagementId"]))
        found = [entry] if _chat_in(entry, now, start_from, start_to) else []
        sources = [_chat_source(e, account, whole=True) for e in found]
        sources = sources[paging.offset : paging.offset + paging.limit]
        count = len(found)
    else:
        query = search_api.chat_query(body, paging)
        hits = state.store.search(CHAT, query, now, lambda e, k: _contains(transcript_text(e, account), k))
        page = hits[paging.offset : paging.offset + paging.limit]
        sources = [_chat_source(state.store.entry(CHAT, o), account, whole=False) for o in page]
        count = len(hits)
    metadata = search_api.metadata(call.base_url, call.path, paging, count)
    return "interactionHistoryRecords", metadata, sources


def _chat_in(entry: Entry | None, now: int, start_from: int, start_to: int) -> bool:
    return entry is not None and entry.is_closed(now) and start_from <= entry.start_ms <= start_to


def _chat_source(entry: Entry, account: str, whole: bool) -> RecordSource:
    # A chat's record depends only on its index entry (fixed once generated) and ``whole``.
    return (CHAT, entry.ordinal, whole), lambda: chat_record(entry, account, whole=whole)


def _messaging_page(state: LivePersonState, call: Call) -> Page:
    _authorize(state, call)
    paging = search_api.parse_paging(call.query, source_required=True)
    body = search_api.parse_body(call.body)
    query = search_api.messaging_query(body, paging, ignore_updated_since=state.ignore_latest_update_time)
    content = search_api.content_to_retrieve(body)
    now, account = state.clock.now(), state.config.account_id
    hits = state.store.search(MESSAGING, query, now, lambda e, k: _contains(message_text(e, account, now), k))
    page = hits[paging.offset : paging.offset + paging.limit]
    unauth = _wants_unauth_sdes(call.query)
    sources = [
        _messaging_source(
            state.store.entry(MESSAGING, o), account, now, content, False, unauth, state.shape()
        )
        for o in page
    ]
    metadata = search_api.metadata(call.base_url, call.path, paging, len(hits))
    return "conversationHistoryRecords", metadata, sources


def _conversations_by_id_page(state: LivePersonState, call: Call) -> Page:
    _authorize(state, call)
    paging = search_api.parse_paging(call.query, source_required=True)
    body = search_api.parse_body(call.body)
    ids = _conversation_ids(body)
    content = search_api.content_to_retrieve(body)
    now, account = state.clock.now(), state.config.account_id
    found: list[Entry] = [e for e in (state.store.find(MESSAGING, i) for i in ids) if e is not None]
    unauth = _wants_unauth_sdes(call.query)
    sources = [_messaging_source(e, account, now, content, True, unauth, state.shape()) for e in found]
    metadata = search_api.metadata(call.base_url, call.path, paging, len(sources))
    return "conversationHistoryRecords", metadata, sources[paging.offset : paging.offset + paging.limit]


def _messaging_source(
    entry: Entry, account: str, now: int, content: frozenset[str], whole: bool, unauth: bool, shape: Shape
) -> RecordSource:
    # The clock matters only while the conversation is open (status, duration); once closed the
    # record is fixed.
    moment = None if entry.is_closed(now) else now
    key = (MESSAGING, entry.ordinal, moment, content, whole, unauth, shape)
    return key, lambda: messaging_record(
        entry, account, now, content, whole=whole, with_unauth_sdes=unauth, shape=shape
    )


def _conversation_ids(body: dict[str, Any]) -> list[str]:
    if body.get("conversationId"):
        return [str(body["conversationId"])]
    ids = body.get("conversationIds")
    if isinstance(ids, list) and ids:
        return [str(i) for i in ids]
    raise ApiError(400, "Missing required body field 'conversationId' (or 'conversationIds')")


def _wants_unauth_sdes(query: dict[str, str]) -> bool:
    try:
        return float(query.get("v", "1")) >= 2
    except ValueError as exc:
        raise ApiError(400, f"v must be a number, got {query.get('v')!r}") from exc


def _contains(text: str, keyword: str) -> bool:
    return keyword.casefold() in text.casefold()


# --- emulator controls --------------------------------------------------------------------------


class ClockChange(BaseModel):
    advance_seconds: float | None = None
    now_ms: int | None = None


class NewConversations(BaseModel):
    count: int = Field(..., ge=0, le=200_000)
    channel: str = CHAT
    start_from: int | None = None
    start_to: int | None = None


class Readings(BaseModel):
    """Switches between readings of ambiguous docs; a field left out keeps its value."""

    ignore_latest_update_time: bool | None = None
    alternative_enum_share: float | None = Field(None, ge=0, le=1)


class NewPageRule(NewConversations):
    after_pages: int = Field(..., ge=1)


def _add_control_routes(app: FastAPI, state: LivePersonState) -> None:
    prefix = "/_emulator/liveperson"

    @app.post(f"{prefix}/clock")
    def change_clock(change: ClockChange) -> JSONResponse:
        if change.now_ms is not None:
            state.clock.set(change.now_ms)
        if change.advance_seconds:
            state.clock.advance(change.advance_seconds)
        return JSONResponse({"now": state.clock.now()})

    @app.post(f"{prefix}/conversations", status_code=201)
    def add_conversations(new: NewConversations) -> JSONResponse:
        if new.channel not in (CHAT, MESSAGING):
            raise ApiError(400, f"channel must be {CHAT!r} or {MESSAGING!r}")
        state.add_conversations(new.count, new.channel, new.start_from, new.start_to)
        return JSONResponse(state.summary(), status_code=201)

    @app.post(f"{prefix}/page-rules", status_code=201)
    def add_page_rule(new: NewPageRule) -> JSONResponse:
        rule = state.add_page_rule(
            PageRule(new.after_pages, new.count, new.channel, new.start_from, new.start_to)
        )
        return JSONResponse({"after_pages": rule.after_pages, "count": rule.count}, status_code=201)

    @app.post(f"{prefix}/readings")
    def change_readings(change: Readings) -> JSONResponse:
        if change.ignore_latest_update_time is not None:
            state.ignore_latest_update_time = change.ignore_latest_update_time
        if change.alternative_enum_share is not None:
            state.alternative_enum_share = change.alternative_enum_share
        return JSONResponse(
            {
                "ignore_latest_update_time": state.ignore_latest_update_time,
                "alternative_enum_share": state.alternative_enum_share,
            }
        )

    @app.get(f"{prefix}/summary")
    def summary() -> JSONResponse:
        return JSONResponse(state.summary())
