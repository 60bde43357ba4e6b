"""The lesync pages and their JSON twins, a FastAPI app that Airflow's API server mounts at ``/lesync``.

Who may see what is Airflow's decision, asked through its auth manager: a request without a valid
Airflow session gets a redirect to Airflow's login page (HTML) or 401 (JSON); an integration is
listed only to users who may read the runs of its replay DAG; the replay controls appear only for
users who may trigger that DAG. The replay itself is a POST to Airflow's public API
(``/api/v2/dags/{dag_id}/dagRuns``) made by the page with the user's own session, so Airflow's
permission check is the one that counts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.templating import Jinja2Templates

from lesync.ui import data

MOUNT_PREFIX = "/lesync"
CHANNELS = ("chat", "messaging")
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
COUNT_KEYS = ("extracted", "created", "updated", "unchanged", "failed", "skipped")


def _when(value: dt.datetime | str | None) -> str:
    """A moment as ``2026-11-30 09:01 UTC`` (the store's rows carry aware date-times)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


TEMPLATES.env.filters["when"] = _when


# --- who is asking -----------------------------------------------------------------------------


async def _user_or_none(request: Request, bearer: HTTPAuthorizationCredentials | None) -> Any | None:
    """The Airflow user behind the request's session cookie or bearer token; None when there is none."""
    from airflow.api_fastapi.core_api.security import get_user

    try:
        return await get_user(request, None, bearer)
    except HTTPException:
        return None


async def _bearer(request: Request) -> HTTPAuthorizationCredentials | None:
    from airflow.api_fastapi.core_api.security import bearer_scheme

    return await bearer_scheme(request)


async def page_user(request: Request, bearer: Annotated[Any, Depends(_bearer)]) -> Any | None:
    return await _user_or_none(request, bearer)


async def api_user(request: Request, bearer: Annotated[Any, Depends(_bearer)]) -> Any:
    user = await _user_or_none(request, bearer)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated: sign in to Airflow first")
    return user


def _may(user: Any, method: str, dag_id: str) -> bool:
    """Airflow's answer to: may ``user`` do ``method`` on the runs of ``dag_id``?"""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.configuration import conf

    team = None
    if conf.getboolean("core", "multi_team", fallback=False):
        from airflow.models.dag import DagModel

        team = DagModel.get_team_name(dag_id)
    return get_auth_manager().is_authorized_dag(
        method=method,  # type: ignore[arg-type]
        access_entity=DagAccessEntity.RUN,
        details=DagDetails(id=dag_id, team_name=team),
        user=user,
    )


def _readable_integrations(user: Any) -> list[str]:
    return [name for name in data.integration_names() if _may(user, "GET", data.replay_dag_id(name))]


def _readable(user: Any, integration: str) -> str:
    if integration not in data.integration_names() or not _may(user, "GET", data.replay_dag_id(integration)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No integration {integration!r} visible to you")
    return integration


def _login_redirect(request: Request) -> RedirectResponse:
    from airflow.api_fastapi.app import get_auth_manager

    return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=303)


# --- request parsing -----------------------------------------------------------------------------


def _blank_to_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _parse_moment(name: str, value: str | None, end_of_day: bool) -> dt.datetime | None:
    """A date (YYYY-MM-DD: the whole day, UTC) or an ISO date-time; a naive one is taken as UTC."""
    value = _blank_to_none(value)
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
            return day + dt.timedelta(days=1) if end_of_day else day
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"Parameter {name!r}: {value!r} is not a date; use YYYY-MM-DD or an ISO date-time",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def failed_filter(
    run_id: str | None = None,
    error_code: str | None = None,
    channel: str | None = None,
    since: str | None = None,
    until: str | None = None,
    resolved: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> data.FailedFilter:
    """The failed-records filters from the query string (blank form fields mean "any")."""
    channel = _blank_to_none(channel)
    if channel is not None and channel not in CHANNELS:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"Parameter 'channel': {channel!r} is not one of {', '.join(CHANNELS)}",
        )
    return data.FailedFilter(
        run_id=_blank_to_none(run_id),
        error_code=_blank_to_none(error_code),
        channel=channel,
        since=_parse_moment("since", since, end_of_day=False),
        until=_parse_moment("until", until, end_of_day=True),
        resolved=resolved,
        limit=limit,
        offset=offset,
    )


# --- links into Airflow's own UI -----------------------------------------------------------------


def _airflow_base(request: Request) -> str:
    """Airflow's URL path prefix (``[api] base_url``'s path), seen from inside the mounted app."""
    return request.scope.get("root_path", "").removesuffix(MOUNT_PREFIX).rstrip("/")


def _run_url(base: str, dag_id: str, run_id: str) -> str:
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def _load_log_url(base: str, dag_id: str | None, run_id: str | None) -> str | None:
    """The run's ``load`` task page (its log tab opens first); None when the run's DAG is unknown."""
    if not dag_id or not run_id:
        return None
    return _run_url(base, dag_id, run_id) + "/tasks/load"


def _with_links(base: str, integration: str, runs: list[dict], records: list[dict]) -> None:
    for run in runs:
        if run["dag_id"]:
            run["run_url"] = _run_url(base, run["dag_id"], run["dag_run_id"])
        run["load_log_url"] = _load_log_url(base, run["dag_id"], run["dag_run_id"])
    for record in records:
        record["load_log_url"] = _load_log_url(base, *data.airflow_run(integration, record["run_id"]))


def verdict_line(verdict: dict | None) -> str:
    """A reconcile verdict in one line: ``agrees`` or ``DIFFERS``, then LivePerson / Salesforce per
    channel and what was missing (queued for replay, or healed)."""
    if not verdict:
        return "—"
    if verdict.get("skipped"):
        return f"skipped: {verdict['skipped']}"
    parts = []
    for channel in verdict.get("channels") or []:
        part = f"{channel.get('channel')} {channel.get('liveperson')}/{channel.get('salesforce')}"
        if channel.get("missing_total"):
            part += f", {channel['missing_total']} missing"
        if channel.get("extra_total"):
            part += f", {channel['extra_total']} only in Salesforce"
        parts.append(part)
    if verdict.get("queued"):
        parts.append(f"{verdict['queued']} queued for replay")
    if verdict.get("healed"):
        parts.append(f"healed {verdict['healed'].get('created', 0)}")
    head = "agrees" if verdict.get("agrees") else "DIFFERS"
    return f"{head}: " + "; ".join(parts) if parts else head


TEMPLATES.env.filters["verdict_line"] = verdict_line


# --- the app -------------------------------------------------------------------------------------


def create_app() -> FastAPI:
    app = FastAPI(
        title="lesync",
        description="lesync runs and failed records, per integration (HTML pages and JSON for scripts).",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # nothing for anonymous callers, not even the endpoint list
    )
    _add_json_routes(app)
    _add_page_routes(app)
    return app


def _add_json_routes(app: FastAPI) -> None:
    @app.get("/api/integrations")
    def list_integrations(request: Request, user: Annotated[Any, Depends(api_user)]) -> list[dict]:
        """Integrations you may read, their replay DAG and whether you may trigger it."""
        base = _airflow_base(request)
        return [
            {
                "name": name,
                "replay_dag_id": data.replay_dag_id(name),
                "can_replay": _may(user, "POST", data.replay_dag_id(name)),
                "replay_api": f"{base}/api/v2/dags/{data.replay_dag_id(name)}/dagRuns",
            }
            for name in _readable_integrations(user)
        ]

    @app.get("/api/integrations/{integration}/runs")
    def list_runs(
        integration: str,
        user: Annotated[Any, Depends(api_user)],
        limit: Annotated[int, Query(ge=1, le=500)] = 20,
    ) -> list[dict]:
        """The integration's latest runs, newest first: state, counts, API calls, reconcile verdict."""
        return _jsonable(data.latest_runs(_readable(user, integration), limit=limit))

    @app.get("/api/integrations/{integration}/failed")
    def list_failed(
        integration: str,
        user: Annotated[Any, Depends(api_user)],
        flt: Annotated[data.FailedFilter, Depends(failed_filter)],
    ) -> list[dict]:
        """Failed records (unresolved unless ``resolved=true``) filtered by run, error, channel, date."""
        return _jsonable(data.failed_records(_readable(user, integration), flt))


def _add_page_routes(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, user: Annotated[Any, Depends(page_user)]):
        if user is None:
            return _login_redirect(request)
        rows = [_overview_row(name) for name in _readable_integrations(user)]
        return TEMPLATES.TemplateResponse(request, "overview.html", {"rows": rows, "user": user})

    @app.get("/integrations/{integration}", response_class=HTMLResponse)
    def integration_page(
        request: Request,
        integration: str,
        user: Annotated[Any, Depends(page_user)],
        flt: Annotated[data.FailedFilter, Depends(failed_filter)],
    ):
        if user is None:
            return _login_redirect(request)
        _readable(user, integration)
        return TEMPLATES.TemplateResponse(
            request, "integration.html", _page_context(request, user, integration, flt)
        )


def _overview_row(name: str) -> dict:
    runs = data.latest_runs(name, limit=1)
    return {
        "name": name,
        "last_run": runs[0] if runs else None,
        "pending": str(data.count_failed_records(name)),
    }


def _page_context(request: Request, user: Any, integration: str, flt: data.FailedFilter) -> dict:
    base = _airflow_base(request)
    runs = data.latest_runs(integration)
    records = data.failed_records(integration, flt)
    _with_links(base, integration, runs, records)
    replay_dag = data.replay_dag_id(integration)
    return {
        "integration": integration,
        "user": user,
        "runs": runs,
        "records": records,
        "flt": flt,
        "filter_values": _filter_values(request),
        "channels": CHANNELS,
        "error_summary": data.error_code_counts(integration),
        "matching": data.count_failed_records(integration, flt),
        "count_keys": COUNT_KEYS,
        "can_replay": _may(user, "POST", replay_dag),
        "replay_dag_id": replay_dag,
        "js_config": {
            "apiBase": f"{base}/api/v2",
            "replayDagId": replay_dag,
            "replayDagUrl": f"{base}/dags/{quote(replay_dag, safe='')}",
        },
        "next_page": _page_link(request, flt, flt.offset + flt.limit) if len(records) == flt.limit else None,
        "prev_page": _page_link(request, flt, max(flt.offset - flt.limit, 0)) if flt.offset else None,
    }


FILTER_PARAMS = ("run_id", "error_code", "channel", "since", "until")


def _filter_values(request: Request) -> dict[str, str]:
    """The filter form's values as the user typed them."""
    return {name: request.query_params.get(name, "") for name in FILTER_PARAMS}


def _page_link(request: Request, flt: data.FailedFilter, offset: int) -> str:
    params = {k: v for k, v in _filter_values(request).items() if v}
    params |= {"resolved": str(flt.resolved).lower(), "limit": flt.limit, "offset": offset}
    return "?" + urlencode(params)


def _jsonable(rows: list[dict]) -> list[dict]:
    """Rows with date-times as ISO strings (FastAPI would do it too; explicit keeps the JSON stable)."""
    return [{k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()} for row in rows]
