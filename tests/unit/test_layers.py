"""The import graph points one way (DESIGN.md "Layers"), read from the source with ``ast``.

Nothing is imported to check it, so a lazy import inside a function counts as much as one at the
top of a module, and a broken module cannot hide an edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "lesync"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it, as absolute dotted names."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


GRAPH = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _under(name: str, *prefixes: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _real_modules(names: set[str]) -> set[str]:
    """Drop ``from pkg import name`` entries that are not modules (``lesync.config.Integration``)."""
    return {name for name in names if not name.startswith("lesync") or _is_module(name)}


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def _violations(importer_prefix: str, forbidden: tuple[str, ...]) -> set[tuple[str, str]]:
    return {
        (module, imported)
        for module, imports in GRAPH.items()
        if _under(module, importer_prefix)
        for imported in _real_modules(imports)
        if _under(imported, *forbidden)
    }


RULES = {
    "mapping is pure": (
        "lesync.mapping",
        (
            "airflow",
            "requests",
            "lesync.liveperson",
            "lesync.salesforce",
            "lesync.pipeline",
            "lesync.emulators",
        ),
    ),
    "liveperson stands alone": (
        "lesync.liveperson",
        ("lesync.salesforce", "lesync.pipeline", "lesync.emulators"),
    ),
    "salesforce stands alone": (
        "lesync.salesforce",
        ("lesync.liveperson", "lesync.pipeline", "lesync.emulators"),
    ),
    "contracts is a leaf": ("lesync.contracts", ("lesync",)),
}


@pytest.mark.parametrize("rule", RULES)
def test_layers_point_one_way(rule):
    importer, forbidden = RULES[rule]
    new = _violations(importer, forbidden)
    assert not new, f"{rule}: {sorted(new)}"


def test_only_the_test_world_imports_the_emulators():
    allowed = ("lesync.emulators", "lesync.demo")
    offenders = {
        (module, imported)
        for module, imports in GRAPH.items()
        if not _under(module, *allowed)
        for imported in _real_modules(imports)
        if _under(imported, "lesync.emulators")
    }
    assert not offenders, sorted(offenders)
