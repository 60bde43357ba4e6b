"""LivePerson path expressions ("LivePerson API Field" in the vendor's UI) compiled into getters.

Grammar, as admins write it (vendor guide, Appendix #1)::

    path     := step ( "." step )*
    step     := name selector* | selector+          (a path may start with a selector)
    selector := "[" integer "]"                     index, 0-based; negative counts from the end
              | "[" key "=" value "]"               filter: first element whose key equals value
    name     := any characters except . [ ]         (surrounding spaces ignored)
    key      := name ( "." name )*                  (a dotted key looks inside each element)
    value    := any characters up to the "]" that ends the selector (spaces, "?", ".", "=" ok)

Semantics (chosen to be tolerant, because LivePerson documents several shapes for one thing):

- Index base: **0-based**, like the JavaScript/JSON objects these addresses come from; the vendor
  guide only says "a locator like [1]" without fixing a base. ``[-1]`` is the last element.
- A filter on a list returns the **first** matching element (a filter on a single object keeps it
  when it matches). Values compare as text, trimmed and case-insensitively; numbers and booleans
  compare in their JSON spelling (``true``, ``3``).
- ``[sdeType=X]`` also matches an event that has no ``sdeType`` but holds the container key for
  X (``CUSTOMER_INFO`` -> ``customerInfo``, ``VIEWED_PRODUCT`` -> ``viewedProduct``/``viewProduct``).
- A name looked up on a list applies to the first element that has it.
- Container nesting is forgiven both ways: ``personalInfo.personalInfo.name`` resolves on a flat
  ``personalInfo`` and ``personalInfo.name`` on a double-nested one; ``viewProduct`` and
  ``viewedProduct``, ``visitorError`` and ``formFillingError.visitorError`` are aliases.
- A getter never raises: a missing key, a wrong type or an out-of-range index gives ``None``.

A path is parsed once into a tuple of small closures; applying it is a loop over them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Step = Callable[[Any], Any]
Getter = Callable[[Any], Any]


#: Alternative spellings of the same container, as seen in LivePerson's own examples.
KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "viewedProduct": ("viewProduct",),
    "viewProduct": ("viewedProduct",),
    "visitorError": ("formFillingError",),
    "formFillingError": ("visitorError",),
}

#: sdeType values whose container key is not simply the camel-cased type name.
SDE_TYPE_CONTAINERS: dict[str, tuple[str, ...]] = {
    "VIEWED_PRODUCT": ("viewedProduct", "viewProduct"),
    "VISITOR_ERROR": ("visitorError", "formFillingError"),
    "MARKETING_CAMPAIGN_INFO": ("marketingCampaignInfo",),
}


class PathSyntaxError(ValueError):
    """A path that cannot be parsed; ``position`` is the 0-based character offset of the problem."""

    def __init__(self, path: str, position: int, expected: str):
        self.path = path
        self.position = position
        self.expected = expected
        super().__init__(f"path syntax error at position {position}: {expected} (in {path!r})")


# --------------------------------------------------------------------------------------------
# Parsing


def parse_path(path: str) -> tuple[tuple[str, Any], ...]:
    """The path as ``(kind, arg)`` tokens: ``("key", name)``, ``("index", n)``,
    ``("filter", (key_parts, value))``. Raises ``PathSyntaxError`` with a position."""
    if not isinstance(path, str):
        raise PathSyntaxError(str(path), 0, "expected a text path")
    tokens: list[tuple[str, Any]] = []
    pos, end = 0, len(path)
    while pos < end and path[pos] == " ":
        pos += 1
    if pos >= end:
        raise PathSyntaxError(path, pos, "expected a field name, the path is empty")
    while True:
        pos = _parse_step(path, pos, tokens)
        if pos >= end:
            return tuple(tokens)
        if path[pos] != ".":
            raise PathSyntaxError(path, pos, "expected '.' or '[' after ']'")
        pos += 1


def _parse_step(path: str, pos: int, tokens: list[tuple[str, Any]]) -> int:
    start = pos
    while pos < len(path) and path[pos] not in ".[]":
        pos += 1
    name = path[start:pos].strip()
    if name:
        tokens.append(("key", name))
    elif pos >= len(path) or path[pos] != "[":
        raise PathSyntaxError(path, pos, "expected a field name")
    if pos < len(path) and path[pos] == "]":
        raise PathSyntaxError(path, pos, "unexpected ']' without '['")
    while pos < len(path) and path[pos] == "[":
        pos = _parse_selector(path, pos, tokens)
    return pos


def _parse_selector(path: str, open_pos: int, tokens: list[tuple[str, Any]]) -> int:
    close = _closing_bracket(path, open_pos)
    inner = path[open_pos + 1 : close]
    if "=" in inner:
        key, value = inner.split("=", 1)
        key_parts = tuple(part.strip() for part in key.split("."))
        if not all(key_parts):
            raise PathSyntaxError(path, open_pos + 1, "expected a key before '=' (e.g. [displayName=Email])")
        tokens.append(("filter", (key_parts, value.strip())))
        return close + 1
    text = inner.strip()
    if not text:
        raise PathSyntaxError(path, open_pos + 1, "expected an index or key=value inside '[]'")
    try:
        tokens.append(("index", int(text)))
    except ValueError:
        raise PathSyntaxError(
            path, open_pos + 1, f"expected an integer index or key=value, got {text!r}"
        ) from None
    return close + 1


def _closing_bracket(path: str, open_pos: int) -> int:
    """The ``]`` that ends a selector: the first one followed by '.', '[' or the end, so a
    filter value may itself contain ']' (``[displayName=Rate us [1-5]]``)."""
    end = len(path)
    pos = path.find("]", open_pos + 1)
    first = pos
    while pos != -1:
        if pos + 1 == end or path[pos + 1] in ".[":
            return pos
        pos = path.find("]", pos + 1)
    if first == -1:
        raise PathSyntaxError(path, end, "expected ']'")
    raise PathSyntaxError(path, first + 1, "expected '.' or '[' after ']'")


# --------------------------------------------------------------------------------------------
# Compiling


def compile_path(path: str) -> Getter:
    """A getter for ``path``: ``getter(record) -> value | None``, never raising."""
    tokens = parse_path(path)
    steps: list[Step] = []
    previous_key: str | None = None
    for kind, arg in tokens:
        if kind == "key":
            steps.append(_key_step(arg, previous_key))
            previous_key = arg
        elif kind == "index":
            steps.append(_index_step(arg))
        else:
            steps.append(_filter_step(*arg))
    keys = tuple(arg if kind == "key" else None for kind, arg in tokens)
    return _chain(tuple(zip(keys, steps, strict=True)))


def _chain(steps: tuple[tuple[str | None, Step], ...]) -> Getter:
    """The steps in turn, ``None`` as soon as one finds nothing. A key step's plain lookup is
    done in place (the usual case, without a call); the step itself (aliases, lists, nesting
    variants) runs only when that finds nothing, as do index and filter steps (key ``None``)."""

    def getter(record: Any) -> Any:
        node = record
        try:
            for key, step in steps:
                value = node.get(key) if key is not None and type(node) is dict else None
                node = value if value is not None else step(node)
                if node is None:
                    return None
        except Exception:  # a getter must never break a run; unknown shapes mean "missing"
            return None
        return node

    return getter


def _lookup(node: dict, name: str, previous_key: str | None) -> Any:
    """``node[name]`` with LivePerson's documented variants forgiven."""
    value = node.get(name)
    if value is not None:
        return value
    for alias in KEY_ALIASES.get(name, ()):
        value = node.get(alias)
        if value is not None:
            return _unwrap_alias(value, name)
    if previous_key is not None:
        if name == previous_key or previous_key in KEY_ALIASES.get(name, ()):
            return node  # personalInfo.personalInfo.x on a flat personalInfo
        inner = node.get(previous_key)  # personalInfo.x on a double-nested personalInfo
        if type(inner) is dict:
            return inner.get(name)
    return None


def _unwrap_alias(value: Any, name: str) -> Any:
    """``formFillingError`` wraps ``visitorError``; return the inner one when asked for it."""
    if type(value) is dict and type(value.get(name)) is dict:
        return value[name]
    return value


def _key_step(name: str, previous_key: str | None) -> Step:
    def step(node: Any) -> Any:
        kind = type(node)
        if kind is dict:
            value = node.get(name)  # the usual case, without the variants' call
            return value if value is not None else _lookup(node, name, previous_key)
        if kind is list:
            for item in node:
                if type(item) is dict:
                    value = _lookup(item, name, previous_key)
                    if value is not None:
                        return value
        return None

    return step


def _index_step(index: int) -> Step:
    def step(node: Any) -> Any:
        if type(node) is list and -len(node) <= index < len(node):
            return node[index]
        return None

    return step


def _text(value: Any) -> str | None:
    """A value as the text a filter compares against (JSON spelling for numbers/booleans)."""
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (str, int, float)):
        return str(value).strip().casefold()
    return None


def _sde_containers(value: str) -> tuple[str, ...]:
    known = SDE_TYPE_CONTAINERS.get(value.upper())
    if known:
        return known
    head, *rest = value.lower().split("_")
    return (head + "".join(part.capitalize() for part in rest),)


def _filter_step(key_parts: tuple[str, ...], value: str) -> Step:
    wanted = value.casefold()
    nested = len(key_parts) > 1
    key = key_parts[0]
    containers = _sde_containers(value) if key_parts == ("sdeType",) else ()

    def matches(item: Any) -> bool:
        if type(item) is not dict:
            return False
        if nested:
            candidate: Any = item
            for part in key_parts:
                candidate = candidate.get(part) if type(candidate) is dict else None
        else:
            candidate = item.get(key)
        if type(candidate) is str:  # _text, without the call: every SDE event is compared
            return candidate.strip().casefold() == wanted
        if candidate is not None:
            if type(candidate) is list:
                return any(_text(v) == wanted for v in candidate)
            return _text(candidate) == wanted
        return any(item.get(c) is not None for c in containers)

    def step(node: Any) -> Any:
        if type(node) is list:
            for item in node:
                if matches(item):
                    return item
            return None
        return node if matches(node) else None

    return step
