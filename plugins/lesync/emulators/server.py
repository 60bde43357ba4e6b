"""Run an ASGI app with uvicorn on a background thread (tests, benchmarks, the CLI)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn

log = logging.getLogger(__name__)


@dataclass
class RunningServer:
    """A started server; ``url`` is its base URL (scheme, host and port, no trailing slash)."""

    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    _stopped: bool = field(default=False, repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped:
            return
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)
        self._stopped = True


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 lets the OS choose a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


def serve_in_thread(
    app,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    log_level: str = "warning",
    startup_timeout: float = 20.0,
) -> RunningServer:
    """Start ``app`` and return once it accepts connections."""
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        timeout_keep_alive=30,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"emulator on {host}:{actual_port} did not start")
        time.sleep(0.02)
    scheme = "https" if ssl_certfile else "http"
    return RunningServer(
        url=f"{scheme}://{host}:{actual_port}", port=actual_port, server=server, thread=thread
    )


def advertised_host(host: str, public_host: str | None = None) -> str:
    """The host clients should use: the public name if given; loopback for a wildcard bind."""
    if public_host:
        return public_host
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
