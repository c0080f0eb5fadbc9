"""Running one tool call in the sandbox with a deadline, a memory cap and an output cap.

The harness side of ``worker.py``: the call is handed to ``bench.sandbox.run_python`` as a short program
that imports the worker from this checkout (bypassing ``bench.suite.tools.__init__``, which imports
jsonschema: the sandbox has no site-packages) and runs it. What comes back is the worker's JSON answer,
or — when the call ran past its deadline, out of memory or CPU — a tool error saying which bound it hit.

The worker keeps the harness's uid (``keep_uid``): it reads the task's workspace, which need not be
readable by ``nobody``, and runs no model-written code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.sandbox import Limits, run_python

__all__ = ["WorkerOutcome", "run_in_worker"]

_ROOT = Path(__file__).resolve().parents[3]  # the checkout holding ``bench/``
_TOOLS = Path(__file__).resolve().parent
_OUTPUT_SLACK = 16  # the JSON answer, escaped, can be ~6x the content's bytes; the cap allows for it


@dataclass(frozen=True, slots=True)
class WorkerOutcome:
    content: str
    error: bool
    total_bytes: int  # the content's size before it was cut to the cap
    cpu_s: float
    peak_rss_mb: float | None
    wall_s: float


def _program(request: dict[str, Any]) -> str:
    return (
        "import sys, types\n"
        f"sys.path.insert(0, {str(_ROOT)!r})\n"
        "pkg = types.ModuleType('bench.suite.tools')\n"
        f"pkg.__path__ = [{str(_TOOLS)!r}]\n"
        "sys.modules['bench.suite.tools'] = pkg\n"
        "from bench.suite.tools.worker import main\n"
        f"main({json.dumps(request)!r})\n"
    )


def run_in_worker(
    tool: str,
    arguments: dict[str, Any],
    *,
    workspace: Path,
    database: Path | None,
    timeout_s: float,
    memory_mb: int,
    cap_bytes: int,
) -> WorkerOutcome:
    """Run ``tool`` with ``arguments`` under the bounds; never raises for anything the call does."""
    request = {
        "tool": tool,
        "args": arguments,
        "workspace": str(workspace),
        "database": str(database) if database is not None else None,
        "memory_mb": memory_mb,
        "cap": cap_bytes,
        "sql_budget_s": max(min(2.0, timeout_s - 1.0), 0.1),
    }
    result = run_python(
        _program(request),
        Limits(
            timeout_s=timeout_s,
            memory_mb=memory_mb,
            output_bytes=_OUTPUT_SLACK * cap_bytes + 4096,
        ),
        keep_uid=True,
    )
    usage = {"cpu_s": result.cpu_s, "peak_rss_mb": round(result.peak_rss_mb, 1), "wall_s": result.wall_s}
    if result.timed_out:
        why = f"{tool} stopped at its {timeout_s:g} s deadline"
        if tool == "grep":
            why += " (a pattern that backtracks, e.g. nested repeats like (a+)+, can take that long)"
        return WorkerOutcome(why, True, len(why), **usage)
    answer: Any = None
    if result.exit_code == 0 and not result.stdout_truncated:
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            answer = None
    if isinstance(answer, dict) and isinstance(answer.get("content"), str):
        return WorkerOutcome(
            answer["content"], bool(answer.get("error")), int(answer.get("bytes") or 0), **usage
        )
    if result.signal is not None:
        why = f"{tool} was stopped by its limits (signal {result.signal}; memory {memory_mb} MB, CPU time)"
    elif "MemoryError" in result.stderr:
        why = f"{tool} ran out of memory (its limit is {memory_mb} MB)"
    else:
        last = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
        why = f"{tool} failed: " + (last[-1][:300] if last else f"exit code {result.exit_code}")
    return WorkerOutcome(why, True, len(why), **usage)
