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


# --------------------------------------------------------------------------------- typed manifest parts
# The manifest's parts are typed (bench.results.manifest_parts): a renamed fact fails mypy. Two checks keep
# it so: no field of the manifest, at any depth, is typed ``Any`` (``dict[str, Any]`` was how the parts
# stopped being typed), and no module outside the loader reads a part by string key, directly or through
# a local name, nor the JSON of one (``.recorded()``), which would be the same read by another road.
MANIFEST_PARTS = {"device", "power", "hygiene", "resumes", "sandbox"}  # and backend.settings
LOADER = {"bench/results/schema.py", "bench/results/manifest_parts.py", "bench/results/migrate.py"}


def _untyped_fields(model: type, where: str, seen: set[type]) -> list[str]:
    """Every field under ``model`` (models nested in it included) whose annotation holds ``Any``."""
    from typing import Any, get_args

    from pydantic import BaseModel

    if model in seen:
        return []
    seen.add(model)
    found = []
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        stack = [field.annotation]
        while stack:
            hint = stack.pop()
            if hint is Any:
                found.append(f"{where}.{name}: {field.annotation}")
                break
            if isinstance(hint, type) and issubclass(hint, BaseModel):
                found += _untyped_fields(hint, f"{where}.{name}", seen)
            stack.extend(get_args(hint))
    return found


def test_no_manifest_field_is_typed_any() -> None:
    from bench.results.schema import Manifest

    assert _untyped_fields(Manifest, "Manifest", set()) == []


def _part_of(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The manifest part an expression is, if any: ``m.power``, ``(m.power or {})``, ``m.resumes[-1]``,
    ``m.device.recorded()``, ``m.backend.settings``, or a local name bound to one of them."""
    if isinstance(node, ast.BoolOp):
        return next((p for v in node.values if (p := _part_of(v, aliases))), None)
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        if node.attr in MANIFEST_PARTS:
            return node.attr
        backend = isinstance(node.value, ast.Attribute) and node.value.attr == "backend"
        return "backend.settings" if node.attr == "settings" and backend else None  # not a sweep cell's
    is_key = isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
    if isinstance(node, ast.Subscript) and not (is_key and isinstance(node.slice.value, str)):  # type: ignore[attr-defined]
        return _part_of(node.value, aliases)  # m.resumes[-1], m.resumes[i]
    dumps = ("recorded", "model_dump", "without_origin", "at")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in dumps:
        return _part_of(node.func.value, aliases)
    return None


def _key_read(node: ast.AST) -> tuple[ast.AST, ast.AST] | None:
    """(key, what is read) of ``x["key"]`` or ``x.get("key")`` (``pop``, ``setdefault``)."""
    if isinstance(node, ast.Subscript):
        return node.slice, node.value
    getter = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args
    if getter and node.func.attr in ("get", "pop", "setdefault"):  # type: ignore[attr-defined]
        return node.args[0], node.func.value  # type: ignore[attr-defined]
    return None


def string_key_reads(source: str) -> list[tuple[int, str]]:
    """(line, code) of every read of a manifest part by a constant string key in ``source``."""
    tree = ast.parse(source)
    hits: set[tuple[int, str]] = set()
    for scope in ast.walk(tree):
        if not isinstance(scope, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        nodes = list(ast.walk(scope))
        aliases: dict[str, str] = {}
        for n in nodes:
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
                bound, value = n.targets[0].id, n.value
            elif isinstance(n, ast.For) and isinstance(n.target, ast.Name):
                bound, value = n.target.id, n.iter
            else:
                continue
            if part := _part_of(value, aliases):
                aliases[bound] = part
        for n in nodes:
            read = _key_read(n)
            if read is None:
                continue
            key, target = read
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and _part_of(target, aliases):
                hits.add((n.lineno, ast.unparse(n)))
    return sorted(hits)


def test_the_scanner_finds_string_key_reads() -> None:
    source = (
        "def f(m, run):\n"
        "    a = m.device['name']\n"
        "    b = (m.power or {}).get('idle_w')\n"
        "    d = run.manifest.device\n"
        "    c = d.get('kind')\n"
        "    m.resumes[-1]['power'] = 'x'\n"
        "    for e in m.resumes:\n"
        "        e.get('start_ns')\n"
        "    r = m.backend.settings.recorded()['n_threads']\n"
        "    ok = m.device.name, m.power.idle_w, m.backend.settings.recorded()[key], {'a': 1}['a']\n"
        "    cell = sweep_row.settings['concurrency']\n"
    )
    assert [line for line, _ in string_key_reads(source)] == [2, 3, 5, 6, 8, 9]


def test_no_string_key_reads_of_manifest_parts_outside_the_loader() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {code}"
        for path in sorted((ROOT / "bench").rglob("*.py"))
        if str(path.relative_to(ROOT)) not in LOADER
        for line, code in string_key_reads(path.read_text(encoding="utf-8"))
    ]
    assert not found, "manifest parts read by string key (read the typed attribute): " + "; ".join(found)
