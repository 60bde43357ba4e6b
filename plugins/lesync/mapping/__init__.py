"""Mapping LivePerson records to Salesforce rows: pure code, no Airflow.

- ``load_mapping(path)`` / ``compile_mapping(data)``: a validated, compiled mapping file
  (``MappingError`` names the file, the entry and the fix).
- ``transform_record(record, channel, mapping, fields_meta)``: one record -> one row (the
  contract with the load stage, see ``lesync.mapping.transform``).
- ``compile_path(path)``: a LivePerson path expression as a getter that never raises.
- ``CATALOG``: the predefined LivePerson fields.
- ``fields_meta_from_describe(describe)`` / ``fields_meta_from_schema(object)``: field metadata.
- ``render(record, channel)``: the transcript as text.
- ``content_to_retrieve(mapping)``: the messaging ``contentToRetrieve`` parts the mapping reads.
- ``RedactionPolicy`` / ``redactor(policy)`` / ``redact_record``: redaction of what people typed.
- ``METRICS``: the service-level metrics (``lesync.mapping.metrics``), also catalog fields.
"""

from lesync.mapping.catalog import CATALOG, CatalogField
from lesync.mapping.content import content_to_retrieve
from lesync.mapping.limits import (
    TRUNCATION_MARKER,
    FieldMeta,
    fields_meta_from_describe,
    fields_meta_from_schema,
)
from lesync.mapping.metrics import METRICS
from lesync.mapping.paths import PathSyntaxError, compile_path, parse_path
from lesync.mapping.redaction import RedactionPolicy, redact_record, redactor
from lesync.mapping.spec import CompiledMapping, MappingError, compile_mapping, load_mapping
from lesync.mapping.transcript import render, render_chat, render_messaging
from lesync.mapping.transform import TransformedRow, detect_channel, transform_record

__all__ = [
    "CATALOG",
    "TRUNCATION_MARKER",
    "CatalogField",
    "METRICS",
    "CompiledMapping",
    "FieldMeta",
    "MappingError",
    "PathSyntaxError",
    "RedactionPolicy",
    "TransformedRow",
    "compile_mapping",
    "compile_path",
    "content_to_retrieve",
    "detect_channel",
    "fields_meta_from_describe",
    "fields_meta_from_schema",
    "load_mapping",
    "parse_path",
    "redact_record",
    "redactor",
    "render",
    "render_chat",
    "render_messaging",
    "transform_record",
]
