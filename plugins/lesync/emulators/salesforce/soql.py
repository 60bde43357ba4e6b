"""A SOQL subset, parsed and translated to SQL over the store's tables.

Supported: ``SELECT f1, Rel__r.Name, COUNT() FROM Obj WHERE ... ORDER BY f [ASC|DESC]
[NULLS FIRST|LAST] LIMIT n OFFSET n``; conditions ``= != <> < <= > >= LIKE IN NOT IN``, ``NOT``,
``AND``/``OR`` with parentheses; string, number, boolean, null, date and datetime literals.
Anything else is answered with MALFORMED_QUERY, never a crash.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from .errors import SalesforceApiError

MAX_QUERY_LENGTH = 100_000

TOKEN_PATTERN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
KEYWORDS = {
    "select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc",
    "nulls", "first", "last", "limit", "offset", "null", "true", "false", "count", "includes",
    "excludes", "group", "having", "with", "for", "using", "typeof",
}  # fmt: skip
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


def malformed(message: str) -> SalesforceApiError:
    return SalesforceApiError.of(400, "MALFORMED_QUERY", message)


@dataclass
class Token:
    kind: str
    text: str
    value: Any = None

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "name" and self.text.lower() in words


@dataclass
class Condition:
    """A leaf (``field op value``) or a boolean node (``op`` in AND/OR/NOT with ``children``)."""

    op: str
    field: str | None = None
    value: Any = None
    children: list[Condition] = dataclasses.field(default_factory=list)


@dataclass
class Query:
    object_name: str
    fields: list[str]
    count_only: bool = False
    where: Condition | None = None
    order_by: list[tuple[str, bool, str | None]] = dataclasses.field(default_factory=list)
    limit: int | None = None
    offset: int = 0


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        match = TOKEN_PATTERN.match(text, position)
        if match is None:
            raise malformed(f"unexpected token: '{text[position : position + 20]}'")
        position = match.end()
        kind = match.lastgroup
        if kind == "ws":
            continue
        raw = match.group()
        tokens.append(Token(kind, raw, _literal_value(kind, raw)))
    return tokens


def _literal_value(kind: str, raw: str) -> Any:
    if kind == "string":
        return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), "\\" + m.group(1)), raw[1:-1])
    if kind == "number":
        return float(raw) if "." in raw else int(raw)
    return raw


class Parser:
    """Recursive descent over the token list."""

    def __init__(self, text: str):
        if len(text) > MAX_QUERY_LENGTH:
            raise malformed(f"Query is too long: {len(text)} characters, at most {MAX_QUERY_LENGTH} allowed")
        self.tokens = tokenize(text)
        self.position = 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise malformed("unexpected end of query")
        self.position += 1
        return token

    def accept(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and (token.is_keyword(*words) or token.text in words):
            self.position += 1
            return True
        return False

    def expect(self, word: str) -> None:
        token = self.peek()
        if not self.accept(word):
            found = token.text if token else "end of query"
            raise malformed(f"unexpected token: '{found}', expecting '{word.upper()}'")

    def name(self) -> str:
        token = self.next()
        if token.kind != "name" or token.text.lower() in KEYWORDS - {"first", "last"}:
            raise malformed(f"unexpected token: '{token.text}'")
        return token.text

    def parse(self) -> Query:
        self.expect("select")
        fields, count_only = self.select_list()
        self.expect("from")
        query = Query(object_name=self.name(), fields=fields, count_only=count_only)
        if self.accept("where"):
            query.where = self.condition()
        if self.accept("order"):
            self.expect("by")
            query.order_by = self.order_list()
        if self.accept("limit"):
            query.limit = self.integer()
        if self.accept("offset"):
            query.offset = self.integer()
        token = self.peek()
        if token is not None:
            raise malformed(f"unexpected token: '{token.text}'")
        return query

    def select_list(self) -> tuple[list[str], bool]:
        if self.accept("count"):
            self.expect("(")
            self.expect(")")
            return [], True
        fields = [self.name()]
        while self.accept(","):
            fields.append(self.name())
        return fields, False

    def order_list(self) -> list[tuple[str, bool, str | None]]:
        items = []
        while True:
            name = self.name()
            descending = self.accept("desc") or (self.accept("asc") and False)
            nulls = None
            if self.accept("nulls"):
                nulls = "first" if self.accept("first") else "last" if self.accept("last") else None
                if nulls is None:
                    raise malformed("expecting FIRST or LAST after NULLS")
            items.append((name, descending, nulls))
            if not self.accept(","):
                return items

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not isinstance(token.value, int) or token.value < 0:
            raise malformed(f"unexpected token: '{token.text}', expecting a non-negative integer")
        return token.value

    def condition(self) -> Condition:
        node = self.conjunction()
        while self.accept("or"):
            node = Condition("OR", children=[node, self.conjunction()])
        return node

    def conjunction(self) -> Condition:
        node = self.negation()
        while self.accept("and"):
            node = Condition("AND", children=[node, self.negation()])
        return node

    def negation(self) -> Condition:
        if self.accept("not"):
            return Condition("NOT", children=[self.negation()])
        if self.accept("("):
            node = self.condition()
            self.expect(")")
            return node
        return self.comparison()

    def comparison(self) -> Condition:
        name = self.name()
        if self.accept("not"):
            self.expect("in")
            return Condition("NOT IN", name, self.value_list())
        if self.accept("in"):
            return Condition("IN", name, self.value_list())
        if self.accept("like"):
            return Condition("LIKE", name, self.value())
        token = self.next()
        if token.kind != "op":
            raise malformed(f"unexpected token: '{token.text}', expecting an operator")
        return Condition("!=" if token.text == "<>" else token.text, name, self.value())

    def value_list(self) -> list[Token]:
        self.expect("(")
        values = [self.value()]
        while self.accept(","):
            values.append(self.value())
        self.expect(")")
        return values

    def value(self) -> Token:
        token = self.next()
        if token.kind in ("string", "number", "date", "datetime"):
            return token
        if token.is_keyword("null", "true", "false"):
            return Token("keyword", token.text.lower())
        raise malformed(f"unexpected token: '{token.text}', expecting a literal value")


def parse(text: str) -> Query:
    return Parser(text).parse()
