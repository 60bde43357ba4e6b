"""A throwaway Airflow cluster on CeleryExecutor: PostgreSQL + Redis on loopback, real processes.

``start_cluster(workers=N)`` gives a fresh database (unique name), a fresh AIRFLOW_HOME, a Redis
database index nobody else uses, a unique Celery queue, then starts the scheduler, the DAG
processor, the API server (free port) and N ``airflow celery worker`` processes, each in its own
process group with its log in the home folder. ``Cluster.stop()`` (also on ``with`` exit) ends
the process groups, drops the database and flushes only the Redis index it claimed.

Used by tests/scaleout/test_celery_backfill.py and bench/scaleout_backfill.py::

    with start_cluster(workers=2, dags_folder=REPO / "dags", emulators=EmulatorOptions()) as cluster:
        cluster.create_pool("lesync_demo_liveperson", 4)
        run_id = cluster.trigger("lesync__demo__manual", {"start": ..., "end": ...})
        state = cluster.wait_for_run("lesync__demo__manual", run_id, timeout=180)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
CLAIM_KEY = "lesync:scaleout:claim"
EXTRA_PYTHONPATH_ENV = "LESYNC_SCALEOUT_PYTHONPATH"
TERMINAL_RUN_STATES = {"success", "failed"}


class ClusterError(RuntimeError):
    """The cluster did not come up or did not do what was asked; the message says which part."""


# --------------------------------------------------------------------------- reachability


def service_unreachable() -> str | None:
    """Why the scale-out test cannot run here (PostgreSQL or Redis not on loopback), or None."""
    problems = []
    for name, host, port in (("PostgreSQL", PG_HOST, PG_PORT), ("Redis", REDIS_HOST, REDIS_PORT)):
        try:
            with socket.create_connection((host, port), timeout=2):
                pass
        except OSError as exc:
            problems.append(f"{name} is not reachable on {host}:{port} ({exc})")
    return "; ".join(problems) or None


def plugins_folder() -> Path:
    """``<repo>/plugins`` once it has an ``.airflowignore``; an empty folder until then.

    Airflow's plugin manager imports EVERY ``*.py`` under the plugins folder as a top-level module
    named by its stem, so without an ``.airflowignore`` (``lesync/``) ``lesync/__main__.py`` is
    executed as ``__main__`` (any ``airflow`` command then exits with lesync's usage error) and
    ``lesync/liveperson/http.py`` replaces the standard library's ``http``. lesync stays importable
    either way: the repository's plugins/ is on PYTHONPATH."""
    if (PLUGINS / ".airflowignore").is_file():
        return PLUGINS
    empty = Path(tempfile.gettempdir()) / "lesync-scaleout-empty-plugins"
    empty.mkdir(exist_ok=True)
    return empty


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def airflow_command() -> list[str]:
    """The ``airflow`` CLI of the interpreter running us (the venv's), not whatever is on PATH."""
    script = Path(sys.executable).with_name("airflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "airflow"]


# --------------------------------------------------------------------------- PostgreSQL / Redis


def _pg_admin():
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=5)
    conn.autocommit = True
    return conn


def create_database() -> str:
    name = f"lesync_scaleout_{uuid.uuid4().hex[:12]}"
    with contextlib.closing(_pg_admin()) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with contextlib.closing(_pg_admin()) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def claim_redis_db(token: str) -> int:
    """An empty Redis database index (15 down to 1; 0 is everybody's default), claimed atomically."""
    import redis

    for index in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index, socket_timeout=5)
        try:
            if client.dbsize() == 0 and client.set(CLAIM_KEY, token, nx=True, ex=6 * 3600):
                # Someone may have started writing between dbsize() and set(); keep it only if the
                # claim is still the only key.
                if client.dbsize() == 1:
                    return index
                client.delete(CLAIM_KEY)
        except redis.ResponseError:  # "DB index is out of range" on a server with fewer dbs
            continue
        finally:
            client.close()
    raise ClusterError("no empty Redis database index (1-15) is free on 127.0.0.1:6379")


def release_redis_db(index: int, token: str) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index, socket_timeout=5)
    try:
        if client.get(CLAIM_KEY) in (token.encode(), None):
            client.flushdb()
    finally:
        client.close()


# --------------------------------------------------------------------------- emulators


@dataclass
class EmulatorOptions:
    conversations: int = 60
    days: float = 3
    seed: int = 7
    now: str | None = None  # ISO-8601 with offset; default the current minute
    latency: str = "none"  # none, realistic or a YAML profile (lesync.emulators.latency)


def emulator_connections(info: Mapping[str, Any]) -> dict[str, str]:
    """The emulators' JSON line as AIRFLOW_CONN_* values (JSON form) for lesync's hooks."""
    lp, sf = info["liveperson"], info["salesforce"]
    liveperson = {
        "conn_type": "liveperson",
        "login": lp["consumer_key"],
        "password": lp["consumer_secret"],
        "extra": {
            "account_id": lp["account_id"],
            "access_token": lp["access_token"],
            "access_token_secret": lp["access_token_secret"],
            "domain_api_url": lp["domain_api_url"],
            "ca_file": lp["ca_file"],
        },
    }
    salesforce = {
        "conn_type": "salesforce",
        "login": sf.get("username"),
        "password": sf["client_secret"],
        "extra": {
            "auth_flow": "client_credentials",
            "client_id": sf["client_id"],
            "client_secret": sf["client_secret"],
            "token_url": sf["token_url"],
            "instance_url": sf["instance_url"],
            "version": sf["api_version"],
            "ca_file": sf["ca_file"],
        },
    }
    return {
        "AIRFLOW_CONN_LIVEPERSON_DEFAULT": json.dumps(liveperson),
        "AIRFLOW_CONN_SALESFORCE_DEFAULT": json.dumps(salesforce),
    }


# --------------------------------------------------------------------------- processes


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        return tail(self.log, lines)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the whole process group (Celery's forked children, task supervisors too)."""
        if self.popen.poll() is not None:
            _killpg(self.popen.pid, signal.SIGKILL)  # leftovers of an exited leader
            return
        _killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        _killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)


def stop_all(processes: Iterable[Process], grace: float = 15.0) -> None:
    """SIGTERM every process group at once, wait up to ``grace`` seconds, SIGKILL what is left."""
    processes = list(processes)
    for process in processes:
        _killpg(process.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(max(0.1, deadline - time.monotonic()))
    for process in processes:  # the leader may be gone while its children linger
        _killpg(process.popen.pid, signal.SIGKILL)
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(5)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<{path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- the cluster


@dataclass
class Cluster:
    root: Path
    home: Path
    dags_folder: Path
    database: str
    state_database: str
    redis_db: int
    redis_token: str
    queue: str
    api_port: int
    env: dict[str, str]
    username: str
    password: str
    workers: int
    processes: dict[str, Process] = field(default_factory=dict)
    emulator_info: dict[str, Any] | None = None
    keep_root: bool = False
    _token: str | None = None
    _stopped: bool = False

    # ---- lifecycle

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def worker_names(self) -> list[str]:
        return [name for name in self.processes if name.startswith("worker-")]

    @property
    def staging_root(self) -> Path:
        return Path(self.env["LESYNC_STAGING_ROOT"])

    @property
    def emulator_dir(self) -> Path:
        return self.root / "emulators"

    def spawn(self, name: str, argv: list[str], extra_env: Mapping[str, str] | None = None) -> Process:
        log = self.root / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(self.env, **(extra_env or {}))
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                argv,
                env=env,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() reaches every child
            )
        process = Process(name, popen, log)
        self.processes[name] = process
        return process

    def run_cli(self, *args: str, timeout: float = 180) -> str:
        """``airflow <args>`` to completion; raises ClusterError with its output on failure."""
        argv = [*airflow_command(), *args]
        result = subprocess.run(
            argv, env=self.env, cwd=self.root, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise ClusterError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        errors: list[str] = []
        try:
            stop_all(self.processes.values())
        except Exception as exc:  # keep cleaning up
            errors.append(f"processes: {exc}")
        for cleanup, args in (
            (drop_database, (self.database,)),
            (drop_database, (self.state_database,)),
            (release_redis_db, (self.redis_db, self.redis_token)),
        ):
            try:
                cleanup(*args)
            except Exception as exc:
                errors.append(f"{cleanup.__name__}: {exc}")
        if not self.keep_root:
            shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            raise ClusterError("cleanup incomplete: " + "; ".join(errors))

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, exc_type: Any, *exc_info: Any) -> None:
        if exc_type is not None:
            self.keep_root = True  # the logs explain the failure
            print(f"lesync scale-out: logs kept in {self.root}", file=sys.stderr)
        self.stop()

    def check_alive(self) -> None:
        dead = [p for p in self.processes.values() if not p.alive()]
        if dead:
            tails = "\n".join(f"--- {p.name} log tail ---\n{p.tail()}" for p in dead)
            hint = ""
            if "cannot import name 'retry' from 'celery.backends.database'" in tails:
                hint = (
                    "\nHINT: celery >= 5.7 dropped celery.backends.database.retry, which "
                    "apache-airflow-providers-celery imports: pin celery<5.7 (e.g. celery==5.6.3)."
                )
            raise ClusterError(
                "process(es) exited: "
                + ", ".join(f"{p.name} (rc {p.popen.returncode})" for p in dead)
                + hint
                + "\n"
                + tails
            )

    # ---- REST API v2

    def _request(self, method: str, path: str, **kwargs: Any):
        import requests

        if self._token is None:
            self._token = self._login()
        headers = {"Authorization": f"Bearer {self._token}"}
        response = requests.request(method, self.api_url + path, headers=headers, timeout=30, **kwargs)
        if response.status_code == 401:  # token expired: once more with a fresh one
            self._token = self._login()
            headers["Authorization"] = f"Bearer {self._token}"
            response = requests.request(method, self.api_url + path, headers=headers, timeout=30, **kwargs)
        return response

    def _login(self) -> str:
        import requests

        response = requests.post(
            f"{self.api_url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=30,
        )
        if response.status_code not in (200, 201):
            raise ClusterError(f"POST /auth/token: {response.status_code} {response.text[:500]}")
        return response.json()["access_token"]

    def api(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        if response.status_code not in expect:
            raise ClusterError(f"{method} {path}: {response.status_code} {response.text[:1000]}")
        return response.json() if response.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """Until the DAG processor has parsed and serialized ``dag_id``."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            response = self._request("GET", f"/api/v2/dags/{dag_id}")
            if response.status_code == 200:
                # The run can be created only once the serialized DAG exists as well.
                details = self._request("GET", f"/api/v2/dags/{dag_id}/details")
                if details.status_code == 200:
                    return response.json()
            if time.monotonic() > deadline:
                errors = self._request("GET", "/api/v2/importErrors").text[:2000]
                raise ClusterError(
                    f"DAG {dag_id} did not appear within {timeout:.0f}s; import errors: {errors}\n"
                    f"--- dag-processor ---\n{self.processes['dag-processor'].tail()}"
                )
            time.sleep(1)

    def create_pool(self, name: str, slots: int, description: str = "") -> None:
        body = {"name": name, "slots": slots, "description": description, "include_deferred": False}
        response = self._request("POST", "/api/v2/pools", json=body)
        if response.status_code == 409:
            self.api("PATCH", f"/api/v2/pools/{name}", json=body)
        elif response.status_code not in (200, 201):
            raise ClusterError(f"POST /api/v2/pools: {response.status_code} {response.text[:500]}")

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Unpause and trigger ``dag_id`` (logical date none, like the UI's trigger form)."""
        self.unpause(dag_id)
        body = {"logical_date": None, "conf": dict(conf or {})}
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", expect=(200, 201), json=body)
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 240) -> str:
        deadline = time.monotonic() + timeout
        while True:
            state = self.run_state(dag_id, run_id)
            if state in TERMINAL_RUN_STATES:
                return state
            self.check_alive()
            if time.monotonic() > deadline:
                return state
            time.sleep(1)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self.api(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                params={"limit": 100, "offset": len(found)},
            )
            found.extend(page["task_instances"])
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found

    # ---- diagnostics

    def task_log_tails(
        self, dag_id: str, run_id: str | None = None, lines: int = 30, only_failed: bool = True
    ) -> str:
        """The tails of the task log files (from the shared AIRFLOW_HOME/logs), failed ones first."""
        failed: set[tuple[str, int]] = set()
        if run_id and only_failed:
            with contextlib.suppress(Exception):
                failed = {
                    (ti["task_id"], ti["map_index"])
                    for ti in self.task_instances(dag_id, run_id)
                    if ti["state"] not in ("success", "skipped")
                }
        chunks = []
        for path in sorted((self.home / "logs").rglob("*.log")):
            text = str(path)
            if f"dag_id={dag_id}" not in text:
                continue
            if failed and not any(
                f"task_id={task}" in text and (index < 0 or f"map_index={index}" in text)
                for task, index in failed
            ):
                continue
            chunks.append(f"--- {path.relative_to(self.home)} ---\n{tail(path, lines)}")
        return "\n".join(chunks) or f"<no task logs for {dag_id} under {self.home / 'logs'}>"

    def process_log_tails(self, lines: int = 25) -> str:
        return "\n".join(
            f"--- {p.name} ({'up' if p.alive() else 'exited'}) ---\n{p.tail(lines)}"
            for p in self.processes.values()
        )

    def diagnostics(self, dag_id: str, run_id: str | None) -> str:
        parts = []
        if run_id:
            with contextlib.suppress(Exception):
                tis = self.task_instances(dag_id, run_id)
                parts.append(
                    "task instances:\n"
                    + "\n".join(
                        f"  {t['task_id']}[{t['map_index']}] {t['state']} on {t.get('hostname')}" for t in tis
                    )
                )
        parts.append(self.task_log_tails(dag_id, run_id))
        parts.append(self.process_log_tails())
        return "\n".join(parts)


def _clean_environment() -> dict[str, str]:
    """Our environment minus any Airflow/lesync settings of the calling process (pytest's own
    AIRFLOW_HOME, UNIT_TEST_MODE, ...): the cluster must see only what start_cluster sets."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "LESYNC_", "_AIRFLOW", "PYTEST", "CELERY"))
    }


def start_cluster(
    workers: int = 2,
    *,
    dags_folder: Path | str = REPO / "dags",
    concurrency: int = 2,
    emulators: EmulatorOptions | None = None,
    pools: Mapping[str, int] | None = None,
    extra_env: Mapping[str, str] | None = None,
    root: Path | str | None = None,
    keep_root: bool = False,
    ready_timeout: float = 150,
) -> Cluster:
    """Start everything and return once the API answers and every worker reports ready.

    On any failure while starting, whatever was started is stopped again before the error
    propagates. ``keep_root`` keeps the temporary folder (logs, staging, emulator data)."""
    if reason := service_unreachable():
        raise ClusterError(reason)
    root = Path(root) if root else Path(tempfile.mkdtemp(prefix="lesync-scaleout-"))
    root.mkdir(parents=True, exist_ok=True)
    home = root / "airflow_home"
    home.mkdir(exist_ok=True)
    token = uuid.uuid4().hex
    database = create_database()
    state_database = create_database()  # lesync's state store: a database of its own, as in production
    try:
        redis_db = claim_redis_db(token)
    except BaseException:
        drop_database(database)
        drop_database(state_database)
        raise
    api_port = free_port()
    username, password = "lesync", secrets.token_urlsafe(16)
    passwords_file = home / "simple_auth_manager_passwords.json"
    passwords_file.write_text(json.dumps({username: password}))
    from cryptography.fernet import Fernet

    env = _clean_environment()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            # LESYNC_SCALEOUT_PYTHONPATH goes first: a way to try another library version (e.g. an
            # unpacked wheel) in the cluster without touching the virtualenv.
            "PYTHONPATH": os.pathsep.join(
                filter(
                    None, [os.environ.get(EXTRA_PYTHONPATH_ENV), str(PLUGINS), os.environ.get("PYTHONPATH")]
                )
            ),
            "PYTHONUNBUFFERED": "1",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"lesync-scaleout-{token[:10]}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(Path(dags_folder).resolve()),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder()),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "lesync.hostname.get_hostname",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "LESYNC_STAGING_ROOT": str(root / "staging"),
            "LESYNC_STATE_URL": f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{state_database}",
        }
    )
    env.update(extra_env or {})
    cluster = Cluster(
        root=root,
        home=home,
        dags_folder=Path(dags_folder),
        database=database,
        state_database=state_database,
        redis_db=redis_db,
        redis_token=token,
        queue=env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"],
        api_port=api_port,
        env=env,
        username=username,
        password=password,
        workers=workers,
        keep_root=keep_root,
    )
    try:
        _bring_up(cluster, workers, concurrency, emulators, ready_timeout)
        for name, slots in (pools or {}).items():
            cluster.create_pool(name, slots, "lesync scale-out test")
    except BaseException:
        cluster.keep_root = True  # the logs explain the failure
        with contextlib.suppress(Exception):
            print(cluster.process_log_tails(), file=sys.stderr)
        cluster.stop()
        raise
    return cluster


def _bring_up(
    cluster: Cluster, workers: int, concurrency: int, emulators: EmulatorOptions | None, timeout: float
) -> None:
    if emulators is not None:
        info = _start_emulators(cluster, emulators)
        cluster.emulator_info = info
        cluster.env.update(emulator_connections(info))
    cluster.run_cli("db", "migrate", timeout=timeout)
    airflow = airflow_command()
    cluster.spawn(
        "api-server",
        [*airflow, "api-server", "--host", "127.0.0.1", "--port", str(cluster.api_port), "--workers", "1"],
    )
    cluster.spawn("scheduler", [*airflow, "scheduler"])
    cluster.spawn("dag-processor", [*airflow, "dag-processor"])
    for number in range(1, workers + 1):
        name = f"worker-{number}"
        cluster.spawn(
            name,
            [
                *airflow,
                "celery",
                "worker",
                "--queues",
                cluster.queue,
                "--concurrency",
                str(concurrency),
                "--celery-hostname",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            # Distinct task-instance hostnames (lesync.hostname) and log-server ports on one machine.
            {
                "LESYNC_WORKER_NAME": f"lesync-{name}",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            },
        )
    deadline = time.monotonic() + timeout
    _wait_api(cluster, deadline)
    for name in cluster.worker_names:
        _wait_log(cluster, name, " ready.", deadline)


def _wait_api(cluster: Cluster, deadline: float) -> None:
    import requests

    while True:
        cluster.check_alive()
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{cluster.api_url}/api/v2/version", timeout=5).status_code < 500:
                cluster._token = cluster._login()
                return
        if time.monotonic() > deadline:
            raise ClusterError(f"API server did not answer:\n{cluster.processes['api-server'].tail()}")
        time.sleep(1)


def _wait_log(cluster: Cluster, name: str, marker: str, deadline: float) -> None:
    process = cluster.processes[name]
    while marker not in tail(process.log, 10_000):
        cluster.check_alive()
        if time.monotonic() > deadline:
            raise ClusterError(f"{name} did not log {marker!r}:\n{process.tail()}")
        time.sleep(0.5)


def _start_emulators(cluster: Cluster, options: EmulatorOptions) -> dict[str, Any]:
    argv = [
        sys.executable,
        "-m",
        "lesync.emulators",
        "--lp-port",
        "0",
        "--sf-port",
        "0",
        "--data-dir",
        str(cluster.emulator_dir),
        "--conversations",
        str(options.conversations),
        "--days",
        str(options.days),
        "--seed",
        str(options.seed),
        "--latency",
        str(options.latency),
    ]
    if options.now:
        argv += ["--now", options.now]
    log = cluster.root / "logs" / "emulators.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as err:
        popen = subprocess.Popen(
            argv,
            env=cluster.env,
            cwd=cluster.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    cluster.processes["emulators"] = Process("emulators", popen, log)
    line = popen.stdout.readline()  # one JSON line once both accept connections
    if not line:
        raise ClusterError(f"emulators exited before they were ready:\n{tail(log)}")
    popen.stdout.close()  # nothing more is printed; do not let a full pipe block it
    return json.loads(line)


@contextlib.contextmanager
def cluster_running(workers: int = 2, **kwargs: Any) -> Iterator[Cluster]:
    cluster = start_cluster(workers, **kwargs)
    try:
        yield cluster
    finally:
        cluster.stop()
