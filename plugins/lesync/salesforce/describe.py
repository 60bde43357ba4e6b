"""Describe results, fetched once per object and client: field names, types and lengths."""

from __future__ import annotations

from typing import Any

from lesync.contracts import SchemaMismatchError
from lesync.salesforce.client import SalesforceClient


class DescribeCache:
    """``describe`` answers per object, so a load asks Salesforce once, not per batch."""

    def __init__(self, client: SalesforceClient, known: dict[str, dict[str, Any]] | None = None):
        """``known``: describe answers already fetched (object -> describe), e.g. the run's own."""
        self.client = client
        self._fields: dict[str, dict[str, dict[str, Any]]] = {
            name: {field["name"]: field for field in described["fields"]}
            for name, described in (known or {}).items()
        }

    def fields(self, object_name: str) -> dict[str, dict[str, Any]]:
        """Field name -> describe entry."""
        if object_name not in self._fields:
            described = self.client.describe(object_name)
            self._fields[object_name] = {field["name"]: field for field in described["fields"]}
        return self._fields[object_name]

    def require_external_id(self, object_name: str, field_name: str) -> None:
        """Fail early and clearly when the upsert key is missing or not an external id."""
        field = self.fields(object_name).get(field_name)
        if field is None:
            raise SchemaMismatchError(
                f"{object_name} has no field {field_name}: create it (Text, External ID, Unique) "
                "or name the org's external id field in the mapping's external_id_field"
            )
        if not (field.get("externalId") or field.get("idLookup")):
            raise SchemaMismatchError(
                f"{object_name}.{field_name} is not an external id field: tick 'External ID' "
                "(and 'Unique') on it in Setup, or name another field in external_id_field"
            )

    def unknown_fields(self, object_name: str, names: set[str]) -> set[str]:
        """Names the object does not have (a mapping out of step with the org)."""
        return names - set(self.fields(object_name))
