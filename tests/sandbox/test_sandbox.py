"""bench.sandbox and the python-test check on hostile answers (issue 12, items 1, 2 and 3a).

Every test runs real model-written-looking code in the real sandbox: real processes, real limits. On
Linux the namespaced mode and the fallback without namespaces are both exercised (``namespaces=False``),
since a machine that refuses user namespaces gets the fallback.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import uuid
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from bench.sandbox import Limits, run_python
from bench.suite.checks import Check, evaluate

CHECK: TypeAdapter[Check] = TypeAdapter(Check)
LINUX = sys.platform.startswith("linux")
MODES = [pytest.param(True, id="namespaces"), pytest.param(False, id="fallback")]


def python_test(timeout_s: float = 3.0) -> Check:
    return CHECK.validate_python(
        {"type": "python-test", "asserts": "assert f() == 1\n", "timeout_s": timeout_s}
    )


def _processes_with(marker: str) -> list[int]:
    """Pids whose command line contains ``marker`` (escaped children we must have killed)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(name))
            except OSError:
                continue
    return found


# ------------------------------------------------------------------------------ 1: unbounded output
def test_a_print_loop_is_capped_in_bytes_and_the_harness_stays_small() -> None:
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    result = evaluate(python_test(3.0), 'while True:\n    print("x" * 1000)\n')
    elapsed = time.monotonic() - t0
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) / 1024
    assert result.passed is False
    assert "timed out after 3 s" in result.detail and "output truncated at 65536 bytes" in result.detail
    assert elapsed < 3.0 + 2.0
    assert grown_mb < 100  # it used to grow to ~11 GB


@pytest.mark.parametrize("namespaces", MODES)
def test_output_is_drained_while_the_code_runs_and_flagged(namespaces: bool) -> None:
    code = "import sys\nsys.stdout.write('y' * 5_000_000)\nsys.stderr.write('e' * 300_000)\nprint('done')\n"
    r = run_python(code, Limits(timeout_s=10, output_bytes=4096), namespaces=namespaces)
    assert r.exit_code == 0 and not r.timed_out  # a blocked writer would have timed out instead
    assert len(r.stdout) == 4096 and r.stdout_truncated and r.stderr_truncated and r.truncated


@pytest.mark.parametrize("namespaces", MODES)
def test_peak_rss_is_the_codes_own_not_the_harness_high_water_mark(namespaces: bool) -> None:
    """A harness that once held 700 MB starts the sandbox: the code's peak RSS (finished, and killed at
    its deadline) is what the code used, not the harness's high-water mark that Linux carries through exec."""
    probe = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from bench.sandbox import Limits, run_python
big = b"x" * (700 * 2**20); del big
runs = [run_python("print(1)", namespaces={namespaces}),
        run_python("b = b'y' * (120 * 2**20)", namespaces={namespaces}),
        run_python("import time\\ntime.sleep(30)", Limits(timeout_s=1.0), namespaces={namespaces})]
print(json.dumps([[r.peak_rss_mb, r.timed_out, r.exit_code] for r in runs]))
"""
    import json
    import subprocess

    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (small, small_to, small_rc), (mid, _, mid_rc), (slept, slept_to, _) = json.loads(done.stdout)
    assert small_rc == 0 and not small_to and 0 < small < 100
    assert mid_rc == 0 and 120 <= mid < 240  # what it used, counted
    assert slept_to and 0 < slept < 100


# ------------------------------------------------------------------------- 2: guard and deadline
@pytest.mark.parametrize("namespaces", MODES)
def test_an_escaped_shell_neither_outlives_the_check_nor_writes_after_it(
    namespaces: bool, tmp_path: Path
) -> None:
    """The reported escape: rewrite the guard's settings, fork_exec /bin/sh in a new session, which
    keeps the pipes open and writes a file after the check ended."""
    marker = f"infercost-escape-{uuid.uuid4().hex}"
    target = tmp_path / "written-after.txt"
    code = f"""
import __main__, _posixsubprocess, os, subprocess, sys
__main__._BLOCK_PREFIX = ()  # the old guard's settings: rewriting them changes nothing now
subprocess.Popen(["/bin/sh", "-c", "sleep 1.5; echo late > {target}; exec sleep 60 # {marker}"],
                 start_new_session=True)
def f(): return 1
"""
    t0 = time.monotonic()
    result = run_python(code, Limits(timeout_s=5), namespaces=namespaces)
    elapsed = time.monotonic() - t0
    assert result.exit_code == 0
    assert elapsed < 5 + 2  # the wait never blocks on the escaped child holding the pipe
    time.sleep(2.5)
    assert not target.exists()
    assert _processes_with(marker) == []


def test_a_check_that_never_returns_is_killed_at_its_timeout_with_all_it_started() -> None:
    marker = f"infercost-sleeper-{uuid.uuid4().hex}"
    code = f"import os, subprocess\nsubprocess.Popen(['/bin/sh', '-c', 'sleep 60 # {marker}'])\nwhile True: pass\n"
    t0 = time.monotonic()
    result = evaluate(python_test(2.0), code)
    assert result.passed is False and "timed out after 2 s" in result.detail
    assert time.monotonic() - t0 < 2 + 2
    time.sleep(0.2)
    assert _processes_with(marker) == []


@pytest.mark.parametrize("namespaces", MODES)
def test_processes_are_limited(namespaces: bool) -> None:
    code = """
import os, time
n = 0
for i in range(200):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    n += 1
print(n)
"""
    t0 = time.monotonic()
    r = run_python(code, Limits(timeout_s=10, max_procs=8), namespaces=namespaces)
    assert r.exit_code == 0, r.stderr
    assert int(r.stdout) <= 8 + 2, r.isolation  # a fork bomb stops at the limit
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("namespaces", MODES)
def test_limits_cannot_be_raised_from_inside(namespaces: bool) -> None:
    code = """
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
try:
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    print("raised")
except (ValueError, OSError):
    print("refused", hard)
"""
    r = run_python(code, Limits(timeout_s=5, memory_mb=256), namespaces=namespaces)
    assert r.stdout.split() == ["refused", str(256 * 2**20)]


@pytest.mark.parametrize("namespaces", MODES)
def test_scratch_directory_is_empty_and_file_size_is_limited(namespaces: bool) -> None:
    code = """
import os
print(os.listdir("."), os.getcwd() == os.environ["HOME"] == os.environ["TMPDIR"])
try:
    with open("big", "wb") as f:
        f.write(b"0" * (3 * 2**20))
    print("wrote")
except OSError as exc:
    print("refused", exc.errno)
"""
    r = run_python(code, Limits(timeout_s=5, file_size_mb=1), namespaces=namespaces)
    lines = r.stdout.splitlines()
    assert lines[0] == "[] True"
    assert lines[1].startswith("refused") or r.signal is not None  # EFBIG, or SIGXFSZ


@pytest.mark.skipif(not LINUX, reason="namespaces are Linux-only")
def test_on_linux_nothing_outside_scratch_is_writable_and_there_is_no_network(tmp_path: Path) -> None:
    r = run_python("print(1)", Limits(timeout_s=5))
    if "mount" not in r.isolation.namespaces:
        pytest.skip(f"this kernel refuses unprivileged namespaces ({r.isolation.describe()})")
    target = tmp_path / "outside.txt"
    code = f"""
import socket
try:
    open({str(target)!r}, "w").write("x"); print("wrote")
except OSError as exc:
    print("refused", exc.errno)
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1); print("connected")
except OSError as exc:
    print("no network")
"""
    r = run_python(code, Limits(timeout_s=5))
    assert r.stdout.split("\n")[:2] == ["refused 30", "no network"], r.stdout + r.stderr  # EROFS
    assert not target.exists()
    assert r.isolation.read_only_fs and "net" in r.isolation.namespaces


# ------------------------------------------------------------------------------- 3a: the environment
@pytest.mark.parametrize("namespaces", MODES)
def test_the_harness_environment_is_neither_inherited_nor_readable(
    namespaces: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"sk-planted-{uuid.uuid4().hex}"
    monkeypatch.setenv("INFERCOST_PLANTED_KEY", secret)
    code = f"""
import os
print(sorted(os.environ))
leaks = []
for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["{os.getpid()}", str(os.getppid())]:
    for what in ("environ", "cmdline", "mem"):
        try:
            with open(f"/proc/{{pid}}/{{what}}", "rb") as f:
                if b"sk-planted" in f.read(1 << 20):
                    leaks.append((pid, what))
        except (OSError, ValueError):
            pass
print("LEAK" if leaks else "no leak", leaks)
"""
    r = run_python(code, Limits(timeout_s=10), namespaces=namespaces)
    assert r.exit_code == 0, r.stderr
    names, verdict = r.stdout.splitlines()
    assert "INFERCOST_PLANTED_KEY" not in names
    assert verdict.startswith("no leak"), (verdict, r.isolation)
    assert secret not in r.stdout + r.stderr


def test_isolation_is_recorded() -> None:
    r = run_python("pass", Limits(timeout_s=5))
    assert r.exit_code == 0 and r.isolation.platform == sys.platform
    if LINUX:
        assert r.isolation.harness_undumpable
    assert r.isolation.describe().startswith(sys.platform)
