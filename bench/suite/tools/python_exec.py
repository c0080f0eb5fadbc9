"""The agent ``python`` tool: run model-written code in the same guarded child as python-test checks.

``run_code`` is the ONE adapter between the tool and the sandbox: it starts the guarded child interpreter
of ``bench.suite.checks`` (its audit-hooked ``_CHILD`` program and its OS limits ``_limits``: CPU time,
address space, file size, no core), in an empty scratch directory, its own session, a minimal
environment, and kills the whole process group at the deadline. When the hardened sandbox API lands, only
this function changes.

Unlike the check, the tool needs the child's output (capped in bytes while it is read, so a print loop
cannot fill memory) and its resource use: the child is reaped with ``os.wait4``, whose rusage gives the
tool's CPU-seconds and peak memory (ru_maxrss).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from bench.suite.checks import _CHILD, PythonTestCheck, _limits

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


def _drain(stream: object, sink: bytearray, cap: int, flags: list[bool]) -> None:
    read = stream.read  # type: ignore[attr-defined]
    while True:
        part = read(65536)
        if not part:
            return
        room = cap - len(sink)
        if room > 0:
            sink += part[:room]
        if len(part) > max(room, 0):
            flags[0] = True


def run_code(
    code: str, *, timeout_s: float = 10.0, memory_mb: int = 512, max_output_bytes: int = 16384
) -> CodeRun:
    """Run ``code`` in the guarded child; its stdout/stderr (capped) and rusage come back."""
    limits = PythonTestCheck(type="python-test", asserts="pass", timeout_s=timeout_s, memory_mb=memory_mb)
    payload = json.dumps({"code": code, "asserts": "pass"}).encode()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8"}
    out, err = bytearray(), bytearray()
    flags = [False]
    timed_out = False
    with tempfile.TemporaryDirectory(prefix="infercost-tool-") as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp,
            env=env,
            start_new_session=True,
            preexec_fn=lambda: _limits(limits),
        )
        readers = [
            threading.Thread(target=_drain, args=(proc.stdout, out, max_output_bytes, flags), daemon=True),
            threading.Thread(target=_drain, args=(proc.stderr, err, max_output_bytes, flags), daemon=True),
        ]
        for t in readers:
            t.start()
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(payload)
            proc.stdin.close()

        def kill() -> None:
            nonlocal timed_out
            timed_out = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything the code left behind in its group
        deadline = time.monotonic() + 2.0
        for t in readers:
            t.join(max(deadline - time.monotonic(), 0.0))
    rss_kib = usage.ru_maxrss / (1024 if sys.platform == "darwin" else 1)
    return CodeRun(
        exit_code=proc.returncode,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        timed_out=timed_out,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=round(rss_kib / 1024, 1),
        truncated=flags[0],
    )
