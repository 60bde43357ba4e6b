"""LivePerson API emulator: Domain API, Sentinel tokens, Engagement History (chat) and Messaging
Interactions over HTTPS, with OAuth 1.0 signature checks, LivePerson's limits and errors, a
controllable clock and seeded synthetic conversations.

    emulator = start_liveperson(data_dir=tmp_path)
    info = emulator.connection_info()   # account id, the 4 OAuth strings, domain_api_url, ca_file
    ...
    emulator.stop()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lesync.emulators.liveperson.app import create_app
from lesync.emulators.liveperson.config import KeySet, LivePersonEmulatorConfig
from lesync.emulators.liveperson.state import Clock, LivePersonState, PageRule
from lesync.emulators.server import RunningServer, advertised_host, serve_in_thread
from lesync.emulators.tls import ensure_certificates

__all__ = [
    "Clock",
    "KeySet",
    "LivePersonEmulator",
    "LivePersonEmulatorConfig",
    "LivePersonState",
    "PageRule",
    "create_app",
    "start_liveperson",
]


@dataclass
class LivePersonEmulator:
    """A running emulator. ``url`` is its https base; every LivePerson service lives there."""

    url: str
    domain: str
    ca_file: Path
    state: LivePersonState
    server: RunningServer

    def connection_info(self) -> dict[str, Any]:
        """What a client needs: use ``domain_api_url`` in place of https://api.liveperson.net."""
        config = self.state.config
        return {
            "account_id": config.account_id,
            "consumer_key": config.consumer_key,
            "consumer_secret": config.consumer_secret,
            "access_token": config.access_token,
            "access_token_secret": config.access_token_secret,
            "oauth2_client_id": config.oauth2_client_id,
            "oauth2_client_secret": config.oauth2_client_secret,
            "domain_api_url": self.url,
            "ca_file": str(self.ca_file),
        }

    def stop(self) -> None:
        self.server.stop()


def start_liveperson(
    config: LivePersonEmulatorConfig | None = None,
    data_dir: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    public_host: str | None = None,
) -> LivePersonEmulator:
    """Generate the data, start HTTPS on a background thread, return once it accepts calls.

    ``public_host`` is the name clients use when it is not the listening address (a compose
    service name): it goes into the certificate and into every URL the emulator hands out.
    """
    if data_dir is None:
        raise TypeError("start_liveperson needs data_dir (the TLS certificates are kept there)")
    state = LivePersonState(config)
    certs = ensure_certificates(Path(data_dir) / "tls", extra_hostnames=(public_host,) if public_host else ())
    server = serve_in_thread(
        create_app(state),
        host=host,
        port=port,
        ssl_certfile=str(certs.cert_file),
        ssl_keyfile=str(certs.key_file),
    )
    domain = f"{advertised_host(host, public_host)}:{server.port}"
    state.public_domain = domain
    return LivePersonEmulator(
        url=f"https://{domain}", domain=domain, ca_file=certs.ca_file, state=state, server=server
    )
