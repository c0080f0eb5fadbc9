"""Running a Python callable in a forked child that is killed at its deadline.

For work that cannot be interrupted in-process: Python's ``re`` holds the GIL and checks no signals (a
check's regex, a JSON schema's patterns), and a C-level loop such as ``10 ** 10 ** 9`` inside a BFCL
back-end does not return to the interpreter either. The child inherits the process (so the callable
needs nothing passed to it), computes, writes its bytes to a pipe and leaves without running any
cleanup; the parent reads them until the deadline and kills the child past it. The child can set its
own resource limits first (``limit_memory``): they die with it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import signal
import time
from collections.abc import Callable

__all__ = ["ANSWER_BYTES", "bounded_call", "limit_memory"]

ANSWER_BYTES = 65536  # what a child may hand back, unless the caller allows more


def limit_memory(extra_mb: int) -> None:
    """In a forked child: cap its address space at what it holds now plus ``extra_mb`` (the parent's
    mappings, a loaded model included, count against a plain cap). Where ``/proc`` cannot say what it
    holds (not Linux), the deadline alone bounds it."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            held = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        cap = held + extra_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (OSError, ValueError):
        return


def bounded_call(fn: Callable[[], bytes], timeout_s: float, max_bytes: int = ANSWER_BYTES) -> bytes | None:
    """``fn()`` run in a forked child that is killed at the deadline; its bytes (at most ``max_bytes``,
    64 KiB unless asked; empty when it failed), or None when it timed out.

    ``re`` cannot be interrupted (it holds the GIL and checks no signals), so on POSIX every match of a
    suite's regex — a regex check, or the patterns of a JSON schema — runs in such a child (about a
    millisecond each; see docs/security.md). Without ``fork`` (Windows) ``fn`` runs in-process, unbounded.
    """
    if not hasattr(os, "fork"):  # pragma: no cover - Windows
        return fn()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, report, leave without running any cleanup
        try:
            os.close(read_fd)
            data = fn()[:max_bytes]
            while data:
                data = data[os.write(write_fd, data) :]
        finally:
            os._exit(0)
    os.close(write_fd)
    answer, finished = bytearray(), False
    deadline = time.monotonic() + timeout_s
    try:
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                break
            chunk = os.read(read_fd, max_bytes)
            if not chunk:
                finished = True
                break
            answer += chunk[: max_bytes - len(answer)]
    finally:
        os.close(read_fd)
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return bytes(answer) if finished else None
