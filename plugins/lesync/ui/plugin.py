"""The Airflow plugin that puts lesync's page into Airflow 3's UI.

Airflow's API server mounts ``fastapi_apps`` under their ``url_prefix`` (behind its own login) and
the UI lists ``external_views`` in its navigation; with a ``url_route`` the page opens inside
Airflow's frame at ``/plugin/lesync``. Registered through lesync's provider entry point
(``plugins: [{name: lesync, plugin-class: lesync.ui.plugin.LesyncPlugin}]``), so it loads
wherever the ``lesync`` package is installed; ``plugins/.airflowignore`` keeps the plugins-folder
scan from importing it a second time.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

from lesync.ui.app import MOUNT_PREFIX, create_app


def _page_path() -> str:
    """The page's path as the browser sees it: under ``[api] base_url``'s path when Airflow has one."""
    root = urlsplit(conf.get("api", "base_url", fallback="") or "/").path.rstrip("/")
    return f"{root}{MOUNT_PREFIX}/"


class LesyncPlugin(AirflowPlugin):
    name = "lesync"
    fastapi_apps = [{"name": "lesync", "app": create_app(), "url_prefix": MOUNT_PREFIX}]
    external_views = [
        {
            "name": "lesync",
            "href": _page_path(),
            "url_route": "lesync",
            "destination": "nav",
            "category": "browse",
        }
    ]
