"""The Salesforce emulator: an org over HTTPS with OAuth 2.0, REST, SOQL, sObject Collections,
Bulk API 2.0 ingest, Files, API limits and fault injection, its data in SQLite.

    emulator = start_salesforce(data_dir=tmp_path)
    info = emulator.connection_info()   # token_url, client_id, client_secret, instance_url, ...
    emulator.state.lock_rows(["conv-1"], times=2)
    emulator.stop()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..server import RunningServer, advertised_host, serve_in_thread
from ..tls import ensure_certificates
from .app import create_app
from .state import SalesforceEmulatorConfig, SalesforceState

__all__ = [
    "SalesforceEmulator",
    "SalesforceEmulatorConfig",
    "SalesforceState",
    "create_app",
    "start_salesforce",
]


@dataclass
class SalesforceEmulator:
    """A running emulator; ``url`` is also the org's instance URL."""

    url: str
    ca_file: Path
    jwt_private_key_file: Path
    state: SalesforceState
    server: RunningServer

    @property
    def token_url(self) -> str:
        return self.url + "/services/oauth2/token"

    @property
    def db_path(self) -> Path:
        return self.state.db_path

    def connection_info(self) -> dict[str, Any]:
        config = self.state.config
        return {
            "token_url": self.token_url,
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "username": config.username,
            "instance_url": self.url,
            "api_version": config.api_version,
            "ca_file": str(self.ca_file),
            "jwt_private_key_file": str(self.jwt_private_key_file),
        }

    def stop(self) -> None:
        self.server.stop()


def start_salesforce(
    config: SalesforceEmulatorConfig | None = None,
    data_dir: Path | str = Path("salesforce-emulator"),
    host: str = "127.0.0.1",
    port: int = 0,
    public_host: str | None = None,
) -> SalesforceEmulator:
    """Start the emulator on a background thread; returns once it accepts HTTPS connections.

    ``public_host``: the name clients use (a compose service name), put into the certificate
    and the instance URL it reports.
    """
    data_dir = Path(data_dir)
    state = SalesforceState(config or SalesforceEmulatorConfig(), data_dir)
    certs = ensure_certificates(data_dir / "tls", extra_hostnames=(public_host,) if public_host else ())
    server = serve_in_thread(
        create_app(state),
        host=host,
        port=port,
        ssl_certfile=str(certs.cert_file),
        ssl_keyfile=str(certs.key_file),
    )
    return SalesforceEmulator(
        url=f"https://{advertised_host(host, public_host)}:{server.port}",
        ca_file=certs.ca_file,
        jwt_private_key_file=state.jwt_keys.private_key_file,
        state=state,
        server=server,
    )
