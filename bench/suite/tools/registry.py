"""The tool table: declarations in the OpenAI ``tools`` shape, argument validation, and dispatch.

``run_tool`` never raises for anything the model can do: an unknown tool, arguments that are not an
object or do not match the schema, and a tool's own failure become a ``ToolResult`` with ``error`` set
(the model sees the message as the tool's result). Output is capped at ``MAX_OUTPUT_BYTES``.

Every tool runs outside the harness's process, bounded: ``python`` in the sandbox with its own
timeout (``python_timeout_s``), every other tool in the same sandbox through ``bounded.run_in_worker``
with ``tool_timeout_s`` and ``tool_memory_mb``. A call that hits a bound is a tool error, and the task
goes on (docs/security.md lists what each tool can and cannot do).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from bench.suite.tools import python_exec
from bench.suite.tools.bounded import run_in_worker

__all__ = [
    "MAX_OUTPUT_BYTES", "TOOL_NAMES", "TOOL_SPECS", "ToolContext", "ToolResult", "cap_output", "openai_tools",
    "run_tool", "validate_arguments",
]  # fmt: skip

MAX_OUTPUT_BYTES = 4096


def _obj(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


_STR = {"type": "string", "maxLength": 20000}
# name → (description, JSON-schema parameters)
TOOL_SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "python": (
        "Run Python 3 code in a sandbox (no network, no file writes) and return what it prints.",
        _obj({"code": _STR}, ["code"]),
    ),
    "read_file": (
        "Read a text file of the workspace (up to max_lines lines from offset_line, 0-based).",
        _obj(
            {
                "path": _STR,
                "offset_line": {"type": "integer", "minimum": 0},
                "max_lines": {"type": "integer", "minimum": 1, "maximum": 1000},
            },
            ["path"],
        ),
    ),
    "list_files": ("List the files of the workspace (or of a directory in it).", _obj({"path": _STR}, [])),
    "grep": (
        "Search the workspace's text files for a regular expression; returns file:line: text.",
        _obj({"pattern": _STR, "path": _STR}, ["pattern"]),
    ),
    "sqlite_query": (
        "Run one read-only SQL SELECT on the workspace database; returns tab-separated rows.",
        _obj({"query": _STR}, ["query"]),
    ),
    "calculator": (
        "Evaluate an arithmetic expression (+ - * / // % **, sqrt, abs, round, min, max, log, exp).",
        _obj({"expression": {"type": "string", "maxLength": 2000}}, ["expression"]),
    ),
}
TOOL_NAMES = frozenset(TOOL_SPECS)


def openai_tools(names: list[str]) -> list[dict[str, Any]]:
    """The declarations of ``names`` as the OpenAI ``tools`` request field."""
    return [
        {
            "type": "function",
            "function": {"name": n, "description": TOOL_SPECS[n][0], "parameters": TOOL_SPECS[n][1]},
        }
        for n in names
    ]


def validate_arguments(name: str, arguments: Any) -> str | None:
    """Why ``arguments`` are not valid for tool ``name`` (None: they are)."""
    if name not in TOOL_SPECS:
        return f"unknown tool '{name}' (known: {', '.join(sorted(TOOL_SPECS))})"
    if not isinstance(arguments, dict):
        return "arguments must be a JSON object"
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(TOOL_SPECS[name][1]).iter_errors(arguments)
    )
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "arguments"
    return f"bad arguments for {name}: {where}: {error.message[:200]}"


@dataclass(frozen=True)
class ToolContext:
    """What a task's tools may touch: its workspace root, its database, and which tools it declared."""

    workspace: Path
    database: Path | None
    allowed: frozenset[str]
    python_timeout_s: float = 10.0
    tool_timeout_s: float = 5.0  # every other tool's deadline
    tool_memory_mb: int = 256  # every other tool's address-space cap


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool's answer as the model will see it, and what running it cost."""

    name: str
    content: str
    error: bool
    wall_ns: int
    cpu_s: float = 0.0
    peak_rss_mb: float | None = None
    output_bytes: int = 0
    truncated: bool = False


def cap_output(text: str, total_bytes: int | None = None) -> tuple[str, bool, int]:
    """``text`` cut to ``MAX_OUTPUT_BYTES`` (with a note saying so), whether it was cut, its full size;
    ``total_bytes``: its size before a cut made elsewhere."""
    raw = text.encode("utf-8", "replace")
    total = max(total_bytes or 0, len(raw))
    if total <= MAX_OUTPUT_BYTES:
        return text, False, total
    cut = raw[:MAX_OUTPUT_BYTES].decode("utf-8", "ignore")
    return cut + f"\n[output truncated: {total} bytes, showing {MAX_OUTPUT_BYTES}]", True, total


def _python(ctx: ToolContext, code: str) -> tuple[str, bool, float, float | None]:
    run = python_exec.run_code(code, timeout_s=ctx.python_timeout_s)
    text = run.stdout
    if run.timed_out:
        return text + f"\n[killed after {ctx.python_timeout_s:g} s]", True, run.cpu_s, run.peak_rss_mb
    if run.exit_code != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-6:])
        return (
            (text + "\n" if text else "") + (tail or f"exit code {run.exit_code}"),
            True,
            run.cpu_s,
            run.peak_rss_mb,
        )
    return text or "(no output)", False, run.cpu_s, run.peak_rss_mb


def run_tool(name: str, arguments: Any, ctx: ToolContext) -> ToolResult:
    """Run one tool call; every failure is a result with ``error=True`` (see the module docstring)."""
    t0 = time.perf_counter_ns()
    cpu_s, rss, total = 0.0, None, None
    problem = validate_arguments(name, arguments)
    if problem is None and name not in ctx.allowed:
        problem = f"tool '{name}' is not available in this task (available: {', '.join(sorted(ctx.allowed))})"
    if problem is not None:
        content, error = problem, True
    elif name == "python":
        try:
            content, error, cpu_s, rss = _python(ctx, arguments["code"])
        except OSError as exc:
            content, error = f"python could not start: {exc.strerror or exc}", True
    else:
        try:
            out = run_in_worker(
                name, arguments, workspace=ctx.workspace, database=ctx.database,
                timeout_s=ctx.tool_timeout_s, memory_mb=ctx.tool_memory_mb, cap_bytes=MAX_OUTPUT_BYTES,
            )  # fmt: skip
        except OSError as exc:  # no process could be started (EMFILE, EAGAIN, a full /tmp): this call fails
            content, error = f"{name} could not start: {exc.strerror or exc}", True
        else:
            content, error, total = out.content, out.error, out.total_bytes
            cpu_s, rss = out.cpu_s, out.peak_rss_mb
    text, truncated, n_bytes = cap_output(content, total)
    return ToolResult(
        name=name,
        content=text,
        error=error,
        wall_ns=time.perf_counter_ns() - t0,
        cpu_s=cpu_s,
        peak_rss_mb=rss,
        output_bytes=n_bytes,
        truncated=truncated,
    )
