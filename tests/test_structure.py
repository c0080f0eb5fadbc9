"""The package's structure: no import cycle between modules of ``bench``.

``lint-imports`` (the layers contract in pyproject.toml) catches an upward import between packages; it
does not see a cycle inside one package (``backends.llama_cpp`` ↔ ``backends.llama_shapes`` was one). Two
modules that import each other cannot be read, tested or replaced apart, so every import counts here:
at module level, under ``TYPE_CHECKING`` and inside functions alike (a lazy import is still a cycle, only
hidden until run time). The graph is built from the source with ``ast`` (nothing is imported), as the
before-stop hook's checker does.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module → the modules of the same package it imports, anywhere in its source."""
    files = {
        ".".join(f.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__"): f
        for f in sorted(package.rglob("*.py"))
    }
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        here = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the containing package, one level up per extra dot
                    parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                # `from pkg import mod` imports the submodule; `from mod import name` the module
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in graph]
                targets = subs if len(subs) == len(node.names) else [base, *subs]
            graph[module].update(t for t in targets if t in graph and t != module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_checker_finds_cycles_through_any_kind_of_import(tmp_path: Path) -> None:
    """The detector itself: a direct pair, a three-module ring through a TYPE_CHECKING import and a
    relative lazy import, and a clean chain beside them."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "import pkg.a\n",
        "sub/__init__.py": "",
        "sub/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub.y import Y\n",
        "sub/y.py": "def f():\n    from .z import g\n",
        "sub/z.py": "from ..sub import x\n",
        "clean.py": "from pkg.a import thing\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    assert sorted(sorted(c) for c in cycles(import_graph(pkg))) == [
        ["pkg.a", "pkg.b"],
        ["pkg.sub.x", "pkg.sub.y", "pkg.sub.z"],
    ]


def test_no_import_cycle_in_bench() -> None:
    found = cycles(import_graph(ROOT / "bench"))
    assert not found, (
        "import cycles: "
        + "; ".join(" <-> ".join(sorted(c)) for c in found)
        + (". Cut them: a public call in a module both can import, a Protocol, or a smaller module.")
    )
