"""SOSL: ``GET /services/data/vNN.N/search?q=<SOSL>``, the subset lesync uses, as documented.

Supported (SOQL and SOSL Reference: "SOSL Syntax", "FIND {SearchQuery}", "IN SearchGroup",
"RETURNING FieldSpec", "LIMIT n", "SOSL Limits"; REST API "Search"):

``FIND {term OR "a phrase" OR ...} [IN ALL|NAME|EMAIL|PHONE FIELDS]
[RETURNING Obj, Obj(f1, f2 [WHERE <SOQL condition>] [LIMIT n]), ...] [LIMIT n]``

* Text is split into words at spaces, punctuation and changes between letters and digits, and
  compared case-insensitively; a term of several words needs all of them in the record, a quoted
  phrase needs them in a row.
* ``& | ! ( ) { } [ ] ^ ~ * ? : \\ ' + -`` are operators unless escaped with a backslash; the
  emulator implements OR and phrases only and refuses the other operators (MALFORMED_SEARCH)
  rather than guess them.
* A search query over 4,000 characters loses its logical operators (every word is OR'ed; a
  quoted phrase is not an operator and stays a phrase); over 10,000 it returns nothing.
* At most 2,000 records per search; per-object LIMITs are applied in RETURNING order and the
  rest of the overall limit goes to the next object.
* The answer is ``{"searchRecords": [{"attributes": {"type", "url"}, "Id", ...}]}``.

Phone fields: Salesforce keeps phones as typed and documents only the tokenizer above, so the
default (``sosl_phone_search="tokens"``) finds ``(212) 788-8877`` by ``"212 788 8877"`` but not by
``2127888877``. ``"digits"`` models an org whose search compares phone digits: a term of 7 or more
digits also matches a phone field whose digits end with it (or it with them). Clients must work
under both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request

from .errors import SalesforceApiError
from .querying import invalid_field, render_record
from .soql import parse
from .store import quote

if TYPE_CHECKING:
    from .state import SalesforceState
    from .validation import ObjectFields

MAX_RESULTS = 2_000
OPERATOR_LIMIT = 4_000
NO_RESULTS_LIMIT = 10_000
RESERVED = frozenset("&|!(){}[]^~*?:\\'+-\"")
PHONE_MODES = ("tokens", "digits")
_WORDS = re.compile(r"[^\W\d_]+|\d+")
_SCOPES = {"all", "name", "email", "phone"}
_NAME_FIELDS = {"name", "firstname", "lastname", "company", "subject", "title"}
_SEARCHABLE = {"string", "textarea", "email", "phone", "url", "picklist"}


def malformed(message: str) -> SalesforceApiError:
    return SalesforceApiError.of(400, "MALFORMED_SEARCH", message)


def words(text: str) -> list[str]:
    """The documented tokenizer: spaces, punctuation and letter/digit changes split words."""
    return [w.lower() for w in _WORDS.findall(text)]


@dataclass
class Term:
    """One OR operand: its words, and whether they must be adjacent (a quoted phrase)."""

    words: list[str]
    phrase: bool = False
    raw: str = ""


@dataclass
class ReturningItem:
    object: str
    fields: list[str] = field(default_factory=lambda: ["Id"])
    where: str | None = None
    limit: int | None = None


@dataclass
class Search:
    terms: list[Term]
    scope: str = "all"
    returning: list[ReturningItem] = field(default_factory=list)
    limit: int = MAX_RESULTS
    empty: bool = False


# ---- parsing --------------------------------------------------------------------------------


def parse_search(text: str) -> Search:
    text = text.strip()
    if not re.match(r"(?i)find\s*\{", text):
        raise malformed("unexpected token: expecting 'FIND {'")
    start = text.index("{") + 1
    end = _closing_brace(text, start)
    query, rest = text[start:end], text[end + 1 :]
    search = Search(terms=_terms(query))
    search.empty = len(query) > NO_RESULTS_LIMIT
    if len(query) > OPERATOR_LIMIT:
        search.terms = [
            one
            for term in search.terms
            for one in ([term] if term.phrase else [Term([w], raw=w) for w in term.words])
        ]
    _clauses(rest, search)
    return search


def _closing_brace(text: str, start: int) -> int:
    position = start
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == "}":
            return position
        position += 1
    raise malformed("unterminated search query: expecting '}'")


def _terms(query: str) -> list[Term]:
    """``a OR "b c" OR d\\-e`` -> terms; other operators are refused."""
    terms, current, position = [], "", 0
    operands: list[tuple[str, bool]] = []
    while position < len(query):
        char = query[position]
        if char == "\\" and position + 1 < len(query):
            current += query[position + 1]
            position += 2
            continue
        if char == '"':
            close = query.find('"', position + 1)
            if close < 0:
                raise malformed("unterminated phrase: expecting '\"'")
            if current.strip():
                operands.append((current, False))
            operands.append((query[position + 1 : close], True))
            current, position = "", close + 1
            continue
        if char in RESERVED:
            raise malformed(
                f"unescaped reserved character {char!r} in the search query; escape it with a backslash "
                "(the emulator implements OR and phrases only)"
            )
        current += char
        position += 1
    if current.strip():
        operands.append((current, False))
    for text, phrase in operands:
        if phrase:
            terms.append(Term(words(text), phrase=True, raw=text))
            continue
        for part in re.split(r"(?i)(?:^|\s)or(?:\s|$)", text):
            if re.search(r"(?i)(?:^|\s)(and|not)(?:\s|$)", part):
                raise malformed("the emulator implements OR only, not AND / AND NOT")
            if part.strip():
                terms.append(Term(words(part), raw=part.strip()))
    terms = [t for t in terms if t.words]
    if not terms:
        raise malformed("No search term found. The search term must be at least 1 character long.")
    return terms


def _clauses(rest: str, search: Search) -> None:
    rest = rest.strip()
    scope = re.match(r"(?i)in\s+(\w+)\s+fields\b", rest)
    if scope:
        search.scope = scope.group(1).lower()
        if search.scope not in _SCOPES:
            raise malformed(f"the emulator supports IN ALL|NAME|EMAIL|PHONE FIELDS, not {scope.group(1)}")
        rest = rest[scope.end() :].strip()
    limit = re.search(r"(?i)\blimit\s+(\d+)\s*$", rest)
    if limit and not rest[: limit.start()].rstrip().endswith("("):
        head = rest[: limit.start()]
        if head.count("(") == head.count(")"):
            search.limit = min(int(limit.group(1)), MAX_RESULTS)
            rest = head.strip()
    if rest:
        returning = re.match(r"(?i)returning\s+", rest)
        if not returning:
            raise malformed(f"unexpected token: '{rest[:20]}'")
        search.returning = _returning(rest[returning.end() :])


def _returning(text: str) -> list[ReturningItem]:
    items, position = [], 0
    while position < len(text):
        match = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*").match(text, position)
        if not match:
            raise malformed(f"unexpected token in RETURNING: '{text[position : position + 20]}'")
        item = ReturningItem(match.group(1))
        position = match.end()
        if position < len(text) and text[position] == "(":
            close = _closing_paren(text, position)
            _returning_spec(text[position + 1 : close], item)
            position = close + 1
        items.append(item)
        rest = text[position:].lstrip()
        if not rest:
            break
        if not rest.startswith(","):
            raise malformed(f"unexpected token in RETURNING: '{rest[:20]}'")
        position = len(text) - len(rest) + 1
    return items


def _closing_paren(text: str, start: int) -> int:
    depth, quoted = 0, False
    for position in range(start, len(text)):
        char = text[position]
        if char == "'" and text[position - 1] != "\\":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return position
    raise malformed("unbalanced parentheses in RETURNING")


def _returning_spec(spec: str, item: ReturningItem) -> None:
    limit = re.search(r"(?i)\s+limit\s+(\d+)\s*$", spec)
    if limit:
        item.limit = int(limit.group(1))
        spec = spec[: limit.start()]
    where = re.search(r"(?i)\s+where\s+", spec)
    if where:
        item.where = spec[where.end() :].strip()
        spec = spec[: where.start()]
    item.fields = [name.strip() for name in spec.split(",") if name.strip()] or ["Id"]


# ---- running --------------------------------------------------------------------------------


class SearchService:
    def __init__(self, state: SalesforceState):
        self.state = state

    @property
    def phone_mode(self) -> str:
        return getattr(self.state.config, "sosl_phone_search", "tokens")

    def run(self, text: str, version: str) -> dict[str, Any]:
        search = parse_search(text)
        items = search.returning or [ReturningItem(name) for name in self.state.schema.objects]
        found: list[dict[str, Any]] = []
        remaining = search.limit
        for item in items:
            fields = self._object(item.object)
            names = [self._field(fields, name) for name in item.fields]
            allowed = self._filtered_ids(fields, item.where)
            cap = min(item.limit if item.limit is not None else remaining, remaining)
            if search.empty or cap <= 0:
                continue
            hits = [r for r in self._candidates(fields, allowed) if self._matches(fields, r, search)]
            for record in hits[:cap]:
                found.append(render_record(fields, record, version, names))
            remaining -= min(len(hits), cap)
        return {"searchRecords": found}

    def _object(self, name: str) -> ObjectFields:
        fields = self.state.store.fields(name)
        if fields is None:
            raise SalesforceApiError.of(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
        return fields

    @staticmethod
    def _field(fields: ObjectFields, name: str) -> str:
        canonical = fields.canonical(name)
        if canonical is None:
            raise invalid_field(name, fields.name)
        return canonical

    def _filtered_ids(self, fields: ObjectFields, where: str | None) -> set[str] | None:
        """Ids passing the item's WHERE (the SOQL condition grammar), or ``None`` for all."""
        if not where:
            return None
        query = parse(f"SELECT Id FROM {fields.name} WHERE {where}")
        service = self.state.queries
        where_sql, params = service._where(fields, query.where, False)  # noqa: SLF001 - same package
        rows = self.state.store.execute(f"SELECT Id FROM {quote(fields.name)}{where_sql}", params)
        return {row[0] for row in rows}

    def _candidates(self, fields: ObjectFields, allowed: set[str] | None) -> list[dict[str, Any]]:
        records = self.state.store.records(fields.name)
        return records if allowed is None else [r for r in records if r["Id"] in allowed]

    def _matches(self, fields: ObjectFields, record: dict[str, Any], search: Search) -> bool:
        scoped = self._scoped_fields(fields, search.scope)
        values = [str(record[name]) for name in scoped if record.get(name) not in (None, "")]
        if not values:
            return False
        tokens = [words(value) for value in values]
        phones = [record[name] for name in scoped if fields.field(name).type == "phone" and record.get(name)]
        return any(_term_matches(term, tokens) or self._digits_match(term, phones) for term in search.terms)

    def _scoped_fields(self, fields: ObjectFields, scope: str) -> list[str]:
        names = []
        for name, definition in fields.definition.fields.items():
            kind = definition.type
            if scope == "phone" and kind == "phone":
                names.append(name)
            elif scope == "email" and kind == "email":
                names.append(name)
            elif scope == "name" and name.lower() in _NAME_FIELDS:
                names.append(name)
            elif scope == "all" and kind in _SEARCHABLE:
                names.append(name)
        return names

    def _digits_match(self, term: Term, phones: list[str]) -> bool:
        if self.phone_mode != "digits":
            return False
        wanted = "".join(term.words) if all(w.isdigit() for w in term.words) else ""
        if len(wanted) < 7:
            return False
        for phone in phones:
            digits = "".join(re.findall(r"\d", re.sub(r"(?i)\s*(ext\.?|x|#)\s*\d+\s*$", "", str(phone))))
            if len(digits) >= 7 and (digits.endswith(wanted) or wanted.endswith(digits)):
                return True
        return False


def _term_matches(term: Term, tokens_per_field: list[list[str]]) -> bool:
    if term.phrase:
        size = len(term.words)
        return any(
            tokens[i : i + size] == term.words
            for tokens in tokens_per_field
            for i in range(len(tokens) - size + 1)
        )
    present = {token for tokens in tokens_per_field for token in tokens}
    return all(word in present for word in term.words)


def search_router(state: SalesforceState, version_of: Any) -> APIRouter:
    """``GET /services/data/vNN.N/search?q=<SOSL>`` (one API call, like any other)."""
    router = APIRouter(prefix="/services/data/v{version}")
    service = SearchService(state)

    @router.get("/search")
    def search(request: Request, version: str = Depends(version_of)) -> Any:
        text = request.query_params.get("q")
        if not text:
            raise malformed("A search string has to be specified")
        return service.run(text, version)

    return router
