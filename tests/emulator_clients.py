"""lesync's own clients pointed at a test's emulators (one place, not one copy per test module)."""

from __future__ import annotations

from typing import Any

from lesync.salesforce import SalesforceConnectionSettings, build_client


def salesforce_settings(emulator: Any, **overrides: Any) -> SalesforceConnectionSettings:
    """Client-credentials settings for a running Salesforce emulator; retries do not wait."""
    info = emulator.connection_info()
    values = {
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "token_url": info["token_url"],
        "ca_file": info["ca_file"],
        "backoff_seconds": 0,
        **overrides,
    }
    return SalesforceConnectionSettings(**values)


def salesforce_client(emulator: Any, sleep: Any = None, **overrides: Any):
    """A ready ``SalesforceClient`` for the emulator (``sleep`` as ``build_client`` takes it)."""
    settings = salesforce_settings(emulator, **overrides)
    return build_client(settings, sleep=sleep) if sleep else build_client(settings)
