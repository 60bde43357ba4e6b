"""Shared constants and answers for the Salesforce unit tests (requests-mock, no network)."""

from __future__ import annotations

TOKEN_URL = "https://acme.my.salesforce.com/services/oauth2/token"
INSTANCE = "https://acme.my.salesforce.com"
BASE = f"{INSTANCE}/services/data/v62.0/"
SECRET = "s3cr3t-value-never-logged"


def token_answers(*tokens: str) -> list[dict]:
    return [{"json": {"access_token": t, "instance_url": INSTANCE, "token_type": "Bearer"}} for t in tokens]
