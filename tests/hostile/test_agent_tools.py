"""Agent tools under hostile arguments: every call ends within its deadline and memory, as a tool error
the model sees; file tools never leave the workspace, whatever links they meet.

The deadlines here are short (3 s) to keep the suite fast; the wall-clock bound asserted is generous
(deadline + 3 s on a shared 2-core machine). ``tests/benchmarks/bench_hostile_agent.py`` measures the
overshoot under a whole agent run (docs/figures.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bench.suite.tools import TOOL_NAMES, ToolContext, ToolResult, run_tool

DEADLINE_S = 3.0
SLACK_S = 3.0
WORKSPACE = Path(__file__).resolve().parents[2] / "prompts" / "agent_workspace"
SECRET = "s3cret-outside-the-workspace"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace with a long line (for backtracking patterns) and a secret file beside it."""
    root = tmp_path / "ws"
    (root / "logs").mkdir(parents=True)
    (root / "logs" / "app.log").write_text("a" * 40 + "\n" + "a" * 40 + "!\n" + "x" * 60 + "\nok line\n")
    (root / "notes.txt").write_text("hello\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text(SECRET + "\n")
    return root


def _ctx(root: Path, database: Path | None = None, memory_mb: int = 256) -> ToolContext:
    return ToolContext(
        root,
        database,
        TOOL_NAMES,
        python_timeout_s=DEADLINE_S,
        tool_timeout_s=DEADLINE_S,
        tool_memory_mb=memory_mb,
    )


def _run(name: str, args: object, ctx: ToolContext) -> ToolResult:
    result = run_tool(name, args, ctx)
    assert result.wall_ns / 1e9 < DEADLINE_S + SLACK_S, (name, args, result.wall_ns / 1e9)
    return result


# --------------------------------------------------------------------------- deadlines: grep, python
@pytest.mark.parametrize("pattern", ["^(.|.)*Z", "^(a+)+$", "(a|aa)*b", "(x+x+)+y", "^(\\w+\\s?)*$!"])
def test_catastrophic_grep_patterns_stop_at_the_deadline(ws: Path, pattern: str) -> None:
    result = _run("grep", {"pattern": pattern}, _ctx(ws))
    assert result.error and "deadline" in result.content, result.content


def test_python_tool_keeps_its_own_deadline(ws: Path) -> None:
    result = _run("python", {"code": "while True: pass"}, _ctx(ws))
    assert result.error and "killed after" in result.content


# ------------------------------------------------------------------------------------ calculator
@pytest.mark.parametrize(
    "expression,needle",
    [
        ("round(1, -10**9)", "ndigits out of range"),
        ("round(1, 10**9)", "ndigits out of range"),
        ("round(2.5, -(10**6))", "ndigits out of range"),
        ("round(1, 0.5)", "whole number"),
        ("9**9**9", "too large"),
        ("(10**300) * (10**300)", "out of range"),
        ("max(10**300, 1) ** 999", "too large"),
        ("exp(10**6)", "math error"),
        ("9" * 400, "out of range"),
    ],
)
def test_calculator_refuses_work_that_grows_with_a_number(ws: Path, expression: str, needle: str) -> None:
    result = _run("calculator", {"expression": expression}, _ctx(ws))
    assert result.error and needle in result.content, result.content


def test_calculator_still_computes(ws: Path) -> None:
    ctx = _ctx(ws)
    assert _run("calculator", {"expression": "round(2.567, 2)"}, ctx).content == "2.57"
    assert _run("calculator", {"expression": "round(1234, -2)"}, ctx).content == "1200"


# ---------------------------------------------------------------------------------------- sqlite
@pytest.mark.parametrize(
    "query,needle",
    [
        ("SELECT zeroblob(250000000)", "too big"),
        ("SELECT randomblob(200000000)", "too big"),
        ("SELECT length(printf('%.*c', 500000000, 'x'))", "too big|deadline"),  # one C call: no progress
        ("SELECT replace(hex(zeroblob(600000)), '0', 'xx')", "too big"),
        (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT group_concat(x) FROM c",
            "sqlite|deadline",
        ),
        (
            "SELECT count(*) FROM orders a, orders b, orders c, orders d, orders e, orders f, orders g, orders h, orders i",
            "too long|deadline",
        ),
        ("ATTACH DATABASE '/etc/passwd' AS p", "not authorized"),
        ("PRAGMA hard_heap_limit = 0", "not authorized"),
        ("SELECT load_extension('/tmp/x.so')", "sqlite"),
    ],
)
def test_sqlite_queries_are_bounded_in_size_and_time(ws: Path, query: str, needle: str) -> None:
    ctx = _ctx(WORKSPACE, WORKSPACE / "shop.db")
    result = _run("sqlite_query", {"query": query}, ctx)
    assert result.error and re.search(needle, result.content), result.content
    assert result.peak_rss_mb is not None and result.peak_rss_mb < 256


def test_a_large_value_is_shown_cut(ws: Path) -> None:
    ctx = _ctx(WORKSPACE, WORKSPACE / "shop.db")
    result = _run("sqlite_query", {"query": "SELECT hex(zeroblob(400000))"}, ctx)
    assert not result.error and "[... 800000 chars]" in result.content
    assert len(result.content) < 4096 + 200


def test_a_memory_cap_hit_is_a_tool_error_and_the_next_call_works(ws: Path) -> None:
    # a DISTINCT over a million 128-byte values needs more than 40 MB: the worker's cap (not the harness) stops it
    ctx = _ctx(WORKSPACE, WORKSPACE / "shop.db", memory_mb=40)
    distinct = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000) "
        "SELECT count(*) FROM (SELECT DISTINCT hex(randomblob(64)) FROM c)"
    )
    result = _run("sqlite_query", {"query": distinct}, ctx)
    assert result.error, result.content
    assert not _run(
        "sqlite_query", {"query": "SELECT count(*) FROM orders"}, _ctx(WORKSPACE, WORKSPACE / "shop.db")
    ).error


# ----------------------------------------------------------------------- symlinks at every depth
def _link(path: Path, target: str | Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


@pytest.mark.parametrize(
    "make,path",
    [
        (lambda ws: _link(ws / "env", "/proc/self/environ"), "env"),
        (lambda ws: _link(ws / "a" / "b" / "c" / "deep", "../../../../outside/secret.txt"), "a/b/c/deep"),
        (lambda ws: _link(ws / "dir", ws.parent / "outside"), "dir/secret.txt"),
        (
            lambda ws: (
                _link(ws / "hop1", "hop2"),
                _link(ws / "hop2", "sub/hop3"),
                _link(ws / "sub" / "hop3", "../../outside/secret.txt"),
            ),
            "hop1",
        ),
        (lambda ws: _link(ws / "abs", ws.parent / "outside" / "secret.txt"), "abs"),
        (lambda ws: _link(ws / "up", ".."), "up/outside/secret.txt"),
        (lambda ws: _link(ws / "zero", "/dev/zero"), "zero"),
    ],
)
def test_file_tools_never_follow_a_link_out(ws: Path, make, path: str) -> None:  # type: ignore[no-untyped-def]
    make(ws)
    ctx = _ctx(ws)
    read = _run("read_file", {"path": path}, ctx)
    assert read.error and SECRET not in read.content and "PATH=" not in read.content, read.content
    grep = _run("grep", {"pattern": "s3cret|PATH=|HOME="}, ctx)
    assert SECRET not in grep.content and "PATH=" not in grep.content, grep.content
    listing = _run("list_files", {}, ctx)
    assert not listing.error and "secret.txt\t" not in listing.content
    top = path.split("/")[0]
    assert any(line.startswith(top) and "not followed" in line for line in listing.content.splitlines()), (
        listing.content
    )


def test_links_inside_the_workspace_still_work(ws: Path) -> None:
    _link(ws / "alias.txt", "notes.txt")
    _link(ws / "deep" / "log", "../logs/app.log")
    _link(ws / "absolute.txt", ws.resolve() / "notes.txt")
    ctx = _ctx(ws)
    assert _run("read_file", {"path": "alias.txt"}, ctx).content == "hello"
    assert _run("read_file", {"path": "absolute.txt"}, ctx).content == "hello"
    assert "ok line" in _run("read_file", {"path": "deep/log"}, ctx).content
    assert "alias.txt:1: hello" in _run("grep", {"pattern": "hello"}, ctx).content


@pytest.mark.parametrize(
    "make,path",
    [
        (lambda ws: _link(ws / "self", "self"), "self"),
        (lambda ws: (_link(ws / "a", "b"), _link(ws / "b", "a")), "a"),
        (lambda ws: _link(ws / "d" / "loop", "."), "d/loop/loop/loop/loop/loop/loop/loop/loop/loop/x"),
        (
            lambda ws: _link(ws / "d" / "up", "../d"),
            "d/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/up/x",
        ),
    ],
)
def test_link_loops_are_tool_errors(ws: Path, make, path: str) -> None:  # type: ignore[no-untyped-def]
    make(ws)
    ctx = _ctx(ws)
    for name, args in (
        ("read_file", {"path": path}),
        ("grep", {"pattern": "x", "path": path}),
        ("list_files", {"path": path}),
    ):
        result = _run(name, args, ctx)
        assert result.error, (name, result.content)
    assert not _run("list_files", {}, ctx).error  # a walk meets the loop and goes on
    assert not _run("grep", {"pattern": "hello"}, ctx).error


def test_special_files_in_the_workspace_are_never_opened(ws: Path) -> None:
    os.mkfifo(ws / "pipe")
    ctx = _ctx(ws)
    read = _run("read_file", {"path": "pipe"}, ctx)
    assert read.error and "not a regular file" in read.content
    assert "pipe\tnot a regular file" in _run("list_files", {}, ctx).content
    assert "hello" in _run("grep", {"pattern": "hello"}, ctx).content


@pytest.mark.parametrize(
    "path", ["../outside/secret.txt", "logs/../../outside/secret.txt", "a\x00b", "/../../etc"]
)
def test_paths_out_are_refused(ws: Path, path: str) -> None:
    result = _run("read_file", {"path": path}, _ctx(ws))
    assert result.error and SECRET not in result.content


def test_the_worker_environment_holds_no_harness_secret(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: even a confinement bug would find no key in the worker's own environment."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-harness-key-never-in-a-tool-1234")
    (ws / "environ").symlink_to("/proc/self/environ")
    for name, args in (("read_file", {"path": "environ"}), ("grep", {"pattern": "sk-", "path": "environ"})):
        assert "sk-harness-key" not in _run(name, args, _ctx(ws)).content
