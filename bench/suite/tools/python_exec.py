"""The agent ``python`` tool: run model-written code in the same sandbox as python-test checks.

``run_code`` is the one adapter between the tool and ``bench.sandbox``: a separate interpreter in its
own session with OS limits the code cannot undo (CPU, memory, processes, file size, open files), an empty
scratch directory, an environment built from nothing, Linux namespaces where the kernel allows them, and
the whole process tree killed at the deadline (docs/security.md says what holds on each platform).

Unlike the check, the tool needs the child's output (capped in bytes while it is read, so a print loop
cannot fill memory) and its resource use: the sandbox reports the child's CPU-seconds and peak memory,
which the agent's summary record adds up as tool CPU time.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.sandbox import Limits, run_python

__all__ = ["CodeRun", "run_code"]


@dataclass(frozen=True, slots=True)
class CodeRun:
    exit_code: int  # negative: killed by that signal
    stdout: str
    stderr: str
    timed_out: bool
    cpu_s: float
    peak_rss_mb: float
    truncated: bool


def run_code(
    code: str, *, timeout_s: float = 10.0, memory_mb: int = 512, max_output_bytes: int = 16384
) -> CodeRun:
    """Run ``code`` in the sandbox; its stdout/stderr (capped) and resource use come back."""
    result = run_python(code, Limits(timeout_s=timeout_s, memory_mb=memory_mb, output_bytes=max_output_bytes))
    exit_code = result.exit_code if result.exit_code is not None else -(result.signal or 9)
    return CodeRun(
        exit_code=exit_code,
        stdout=result.stdout,
        stderr=result.stderr,
        timed_out=result.timed_out,
        cpu_s=result.cpu_s,
        peak_rss_mb=round(result.peak_rss_mb, 1),
        truncated=result.truncated,
    )
