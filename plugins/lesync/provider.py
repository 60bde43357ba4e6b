"""lesync as an Airflow provider: what ``ProvidersManager`` learns from the package entry point.

``pyproject.toml`` names ``get_provider_info`` under ``apache_airflow_provider``; Airflow reads it
to offer the "LivePerson" connection type with its own form. Salesforce connections use the
Salesforce provider's ``salesforce`` type unchanged (lesync's hook only reads it).
Kept import-light: Airflow calls this in every process that lists providers.
"""

from __future__ import annotations

from typing import Any

from lesync import __version__


def get_provider_info() -> dict[str, Any]:
    from lesync.liveperson.hook import connection_type_info

    return {
        "package-name": "lesync",
        "name": "lesync",
        "description": "LivePerson conversations mirrored into Salesforce Chat Transcripts.",
        "versions": [__version__],
        "connection-types": [connection_type_info()],
    }
