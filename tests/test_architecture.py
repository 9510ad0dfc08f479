"""The shape of the package: no import cycle between the modules of tlscap/, and no module too long to read.

Imports are read with `ast`, not by importing: every `import` and `from ... import` counts, at module
level, under `if TYPE_CHECKING:` and inside functions alike, so an import moved into a function to dodge
a cycle is still a cycle here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tlscap"

MAX_LINES = 600
# Modules allowed over MAX_LINES, each with the reason it stays one module.
LONG_MODULES: dict[str, str] = {
    "tlscap/tls/constants.py": "a table: the IANA registries (cipher suites, alerts, extensions, groups)",
    "tlscap/tls/messages.py": "one cohesive parser family: a parser per handshake message, sharing one reader",
}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """`tlscap/pki/der.py` -> `tlscap.pki.der`; a package's `__init__.py` is the package."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, *, is_package: bool, known: set[str]) -> set[str]:
    """The modules of `known` that `source` (the text of `module`) imports, wherever the import stands.

    `from a import b` imports module `a.b` when there is one, else module `a`; relative imports are resolved
    against `module`.
    """
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {name for name in found if name in known and name != module}


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of the package -> the modules of the package it imports."""
    paths = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    known = set(paths)
    return {
        name: imported_modules(path.read_text(encoding="utf-8"), name, is_package=path.name == "__init__.py",
                               known=known)
        for name, path in paths.items()
    }


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle (a -> ... -> a, as a list ending where it starts) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the package is small enough for recursion
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(group, graph) for group in sorted(groups)]


def _cycle_in(group: list[str], graph: Mapping[str, Iterable[str]]) -> list[str]:
    """A shortest cycle through the group's first module, staying inside the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for target in sorted(graph.get(node, ())):
                if target == start:
                    return paths[node] + [start]
                if target in members and target not in paths:
                    paths[target] = paths[node] + [target]
                    next_frontier.append(target)
        frontier = next_frontier
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - a group always has one


# --------------------------------------------------------------------------- the package


def test_the_package_has_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join("  " + " -> ".join(cycle) for cycle in found)


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert len(graph) > 50
    assert "tlscap.pki.der" in graph["tlscap.pki.names"]
    assert "tlscap.capture.source" in graph["tlscap.capture.pcap"]
    assert "tlscap.limits" in graph["tlscap.capture.source"]  # `from tlscap import limits`


def test_no_module_is_over_the_line_limit() -> None:
    lengths = {
        path.relative_to(PACKAGE.parent).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    too_long = {name: n for name, n in sorted(lengths.items()) if n > MAX_LINES and name not in LONG_MODULES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them along a seam): {too_long}"
    stale = sorted(name for name in LONG_MODULES if lengths.get(name, 0) <= MAX_LINES)
    assert not stale, f"no longer over {MAX_LINES} lines, remove from LONG_MODULES: {stale}"


# --------------------------------------------------------------------------- the checks themselves


def test_imports_inside_functions_and_type_checking_blocks_count() -> None:
    known = {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.sub", "pkg.sub.e"}
    source = """
from typing import TYPE_CHECKING
import pkg.b
if TYPE_CHECKING:
    from pkg.c import Thing
def late():
    from pkg import d
    from .sub import e
    import os
"""
    assert imported_modules(source, "pkg.a", is_package=False, known=known) == {
        "pkg.b", "pkg.c", "pkg.d", "pkg.sub.e"
    }
    assert imported_modules("from . import a\nfrom .a import x", "pkg", is_package=True, known=known) == {"pkg.a"}


def test_cycles_are_found_and_named() -> None:
    graph = {"m.a": {"m.b"}, "m.b": {"m.c"}, "m.c": {"m.a", "m.d"}, "m.d": set(), "m.e": {"m.e"}, "m.f": {"m.d"}}
    assert cycles(graph) == [["m.a", "m.b", "m.c", "m.a"], ["m.e", "m.e"]]
    assert cycles({"m.a": {"m.b"}, "m.b": set()}) == []
