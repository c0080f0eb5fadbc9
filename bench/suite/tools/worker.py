"""The tool worker: one call of a file, database or calculator tool, run inside ``bench.sandbox``.

The harness never runs these tools in its own process: a model chooses their arguments, and a regular
expression that backtracks (``^(.|.)*Z``), a query that builds a 250 MB blob or a ``round`` with a
billion digits would otherwise take the harness's CPU and memory with no way to stop it (``re`` cannot
be interrupted). ``bounded.run_in_worker`` runs this module's ``main`` in the same sandbox as the
``python`` tool — a separate process under OS limits it cannot raise (address space, CPU seconds), killed
at a wall-clock deadline, its output read with a cap — so every call ends on time and within memory,
and a call that does not becomes a tool error the model sees.

Standard library only (the sandbox starts Python with ``-I -S``: no site-packages), like the tool
modules it calls. The answer is one JSON object on stdout: the content cut to ``cap`` bytes, the size
before the cut, and whether it is an error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.suite.tools import calculator, sql, workspace
from bench.suite.tools.workspace import ToolFailure

__all__ = ["main", "serve"]


def _dispatch(tool: str, args: dict[str, Any], request: dict[str, Any]) -> str:
    root = Path(request["workspace"])
    if tool == "read_file":
        return workspace.read_file(root, args["path"], args.get("offset_line", 0), args.get("max_lines", 200))
    if tool == "list_files":
        return workspace.list_files(root, args.get("path", "."))
    if tool == "grep":
        return workspace.grep(root, args["pattern"], args.get("path", "."))
    if tool == "sqlite_query":
        if not request.get("database"):
            raise ToolFailure("this task has no database")
        return sql.sqlite_query(Path(request["database"]), args["query"], float(request["sql_budget_s"]))
    if tool == "calculator":
        return calculator.calculate(args["expression"])
    raise ToolFailure(f"unknown tool '{tool}'")


def serve(request: dict[str, Any]) -> dict[str, Any]:
    """Run the request's tool; every failure is an answer with ``error`` set (never an exception)."""
    tool = str(request["tool"])
    error = False
    try:
        content = _dispatch(tool, request["args"], request)
    except ToolFailure as exc:
        content, error = str(exc), True
    except MemoryError:
        content, error = f"{tool} ran out of memory (its limit is {request.get('memory_mb')} MB)", True
    except RecursionError:
        content, error = f"{tool} failed: nested too deeply", True
    except (OSError, UnicodeError, ValueError, RuntimeError) as exc:
        content, error = f"{tool} failed: {type(exc).__name__}: {exc}", True
    raw = content.encode("utf-8", "replace")
    cap = int(request["cap"])
    return {"content": raw[:cap].decode("utf-8", "ignore"), "bytes": len(raw), "error": error}


def main(request_json: str) -> None:
    """The sandboxed program's entry point: the request in, one JSON line out."""
    answer = serve(json.loads(request_json))
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
