"""Salesforce-shaped errors: REST answers a JSON list of ``{message, errorCode, fields}``."""

from __future__ import annotations

from typing import Any


def error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"message": message, "errorCode": code, "fields": list(fields or [])}


class SalesforceApiError(Exception):
    """Raised anywhere in a request; the app renders it as ``status`` + the error list."""

    def __init__(self, status: int, errors: list[dict[str, Any]] | dict[str, Any]):
        self.status = status
        self.errors = errors if isinstance(errors, list) else [errors]
        super().__init__(f"{status} {self.errors}")

    @classmethod
    def of(cls, status: int, code: str, message: str, fields: list[str] | None = None) -> SalesforceApiError:
        return cls(status, [error(code, message, fields)])


def not_found(message: str = "The requested resource does not exist") -> SalesforceApiError:
    return SalesforceApiError.of(404, "NOT_FOUND", message)


def as_collection_error(err: dict[str, Any]) -> dict[str, Any]:
    """sObject Collections and composite results name the code ``statusCode``, not ``errorCode``."""
    return {"statusCode": err["errorCode"], "message": err["message"], "fields": err.get("fields", [])}


def bulk_error_text(err: dict[str, Any]) -> str:
    """The ``sf__Error`` column: ``CODE:message:field1,field2 --`` as Bulk API 2.0 writes it."""
    return f"{err['errorCode']}:{err['message']}:{','.join(err.get('fields', []))} --"
