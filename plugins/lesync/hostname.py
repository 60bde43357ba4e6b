"""Hostname callable for ``[core] hostname_callable`` (``AIRFLOW__CORE__HOSTNAME_CALLABLE``).

Airflow records the result on every task instance (``hostname`` in the UI and REST API) and
compares it on each heartbeat. Set ``AIRFLOW__CORE__HOSTNAME_CALLABLE=lesync.hostname.get_hostname``
and give every Celery worker its own ``LESYNC_WORKER_NAME`` when several run on one machine (the
CI scale-out test, a laptop); without it this falls back to the fully qualified domain name, like
Airflow's default ``airflow.utils.net.getfqdn`` (a container's id under docker compose).
"""

from __future__ import annotations

import os
import socket

ENV_VAR = "LESYNC_WORKER_NAME"


def get_hostname() -> str:
    """``$LESYNC_WORKER_NAME`` when set and not blank, else ``socket.getfqdn()``."""
    name = os.environ.get(ENV_VAR, "").strip()
    return name or socket.getfqdn()
