"""Run a Python program written by a model, bounded in time, memory, processes, files and output.

The harness side of the sandbox (``launcher.py`` is the other side). Guarantees, on every platform:

- the code runs in a separate process, in its own session and process group, started through
  ``launcher.py`` which sets OS resource limits before ``exec`` (CPU seconds, address space, processes,
  file size, open files, no core files): limits the code cannot raise again;
- its working directory, ``HOME`` and ``TMPDIR`` are an empty scratch directory, removed afterwards;
- its environment is built from nothing (never the harness's: API keys live there);
- stdout and stderr are read while it runs, each kept up to ``output_bytes`` and drained beyond (so a
  print loop neither fills the harness's memory nor blocks), with a truncated flag;
- at the deadline the whole process group is killed, and the wait never outlives the deadline by more
  than a fixed grace, even when an escaped process still holds the pipes open.

On Linux, where unprivileged user namespaces are allowed, also: no network (an empty network namespace),
every filesystem read-only except the scratch directory, its own PID namespace (it sees only its own
processes, and all of them die with it), and no way to gain privileges (``no_new_privs``). Started as
root, the code runs as ``nobody``. The harness makes itself non-dumpable, so same-uid processes cannot read
its ``/proc/<pid>/environ``. ``SandboxResult.isolation`` records what took effect. docs/security.md
states the per-platform guarantees.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Isolation", "Limits", "SandboxResult", "harden_harness", "probe_isolation", "run_python"]

_LAUNCHER = Path(__file__).with_name("launcher.py")
_EXIT_GRACE_S = 0.25  # after the code exits, how long an escaped process may keep the pipes open
_KILL_WAIT_S = 1.0  # after SIGKILL, how long to wait for the launcher to be reaped
_NOBODY = 65534
_PR_SET_DUMPABLE = 4


@dataclass(frozen=True, slots=True)
class Limits:
    """What the code may use. ``cpu_s`` defaults to the timeout rounded up, plus one second."""

    timeout_s: float = 10.0
    memory_mb: int = 512
    cpu_s: int | None = None
    max_procs: int = 16
    file_size_mb: int = 1
    open_files: int = 64
    output_bytes: int = 64 * 1024  # per stream


@dataclass(frozen=True, slots=True)
class Isolation:
    """Which isolation was in effect for one run (it depends on the OS and on what the kernel allows)."""

    platform: str
    namespaces: tuple[str, ...] = ()
    read_only_fs: bool = False
    own_proc: bool = False
    uid_dropped: bool = False
    harness_undumpable: bool = False
    pids_cgroup: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "namespaces": list(self.namespaces), "summary": self.describe()}

    def describe(self) -> str:
        parts = [self.platform]
        parts.append("namespaces: " + (",".join(self.namespaces) or "none"))
        if self.read_only_fs:
            parts.append("read-only fs except scratch")
        if self.own_proc:
            parts.append("own /proc")
        if self.uid_dropped:
            parts.append("uid nobody")
        if self.pids_cgroup:
            parts.append("pids cgroup")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """What a sandboxed run did. ``exit_code`` is None when a signal ended it (``signal`` says which)."""

    stdout: str
    stderr: str
    exit_code: int | None
    signal: int | None
    timed_out: bool
    stdout_truncated: bool
    stderr_truncated: bool
    output_limit_bytes: int
    cpu_s: float
    peak_rss_mb: float
    wall_s: float
    isolation: Isolation = field(default_factory=lambda: Isolation(platform=sys.platform))

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def truncated(self) -> bool:
        return self.stdout_truncated or self.stderr_truncated


_hardened: bool | None = None


def harden_harness() -> bool:
    """Make this process non-dumpable (Linux): other processes of the same uid, such as sandboxed code
    that escaped every other layer, can then no longer read its ``/proc/<pid>/environ`` (the API key)
    or its memory. Idempotent; returns whether it took effect. Side effect: no core dumps and no
    same-uid debugger attach (py-spy, gdb) for the harness."""
    global _hardened
    if _hardened is not None:
        return _hardened
    _hardened = False
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(
            None, use_errno=True
        )  # the C library is already loaded: no find_library (it runs ldconfig)
        _hardened = libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    return _hardened


def _env(scratch: str) -> dict[str, str]:
    """A fresh environment: nothing from the harness's (never ``os.environ``)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": scratch,
        "TMPDIR": scratch,
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


class _Capped:
    """Keeps the first ``limit`` bytes of a stream and counts (but drops) the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buf = bytearray()
        self.seen = 0

    def feed(self, chunk: bytes) -> None:
        self.seen += len(chunk)
        room = self.limit - len(self.buf)
        if room > 0:
            self.buf += chunk[:room]

    @property
    def truncated(self) -> bool:
        return self.seen > self.limit

    def text(self) -> str:
        return bytes(self.buf).decode("utf-8", "replace")


def _kill(launcher_pid: int, code_pid: int | None) -> None:
    """SIGKILL the code's process (its PID namespace dies with it) and the launcher's process group."""
    for pid in (code_pid, launcher_pid):
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(launcher_pid, signal.SIGKILL)


class _PidsCgroup:
    """A pids cgroup (v1 ``/sys/fs/cgroup/pids`` or v2 with the pids controller) for one run, where this
    process may create one (root, or a delegated subtree): it caps the processes of the run, which
    RLIMIT_NPROC cannot do for root, and lists every one of them to kill, wherever they moved."""

    def __init__(self, max_procs: int) -> None:
        self.path: str | None = None
        name = f"infercost-sandbox-{os.getpid()}-{time.monotonic_ns()}"
        for parent in ("/sys/fs/cgroup/pids", *_v2_parent()):
            if not os.path.isfile(os.path.join(parent, "cgroup.procs")):
                continue
            path = os.path.join(parent, name)
            try:
                os.mkdir(path)
            except OSError:
                continue
            try:
                with open(os.path.join(path, "pids.max"), "w") as f:
                    f.write(str(max_procs + 2))  # + the launcher and the namespace's init
            except OSError:
                os.rmdir(path)
                continue
            self.path = path
            return

    def kill_all(self) -> None:
        """SIGKILL every process left in the cgroup, then remove it (bounded: never waits long)."""
        if self.path is None:
            return
        end = time.monotonic() + _KILL_WAIT_S
        while time.monotonic() < end:
            try:
                with open(os.path.join(self.path, "cgroup.procs")) as f:
                    pids = [int(x) for x in f.read().split()]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)
        with contextlib.suppress(OSError):
            os.rmdir(self.path)


def _v2_parent() -> list[str]:
    """This process's own cgroup v2 directory, when the pids controller is delegated below it."""
    try:
        with open("/proc/self/cgroup") as f:
            own = next((ln.split("::", 1)[1].strip() for ln in f if ln.startswith("0::")), None)
    except OSError:
        return []
    if own is None:
        return []
    path = os.path.join("/sys/fs/cgroup", own.lstrip("/"))
    try:
        with open(os.path.join(path, "cgroup.subtree_control")) as f:
            return [path] if "pids" in f.read().split() else []
    except OSError:
        return []


def _prepare(root: str, source: str, drop_uid: bool) -> tuple[str, str]:
    """Write the program beside (not in) an empty scratch dir; hand both to ``nobody`` when root."""
    scratch = os.path.join(root, "scratch")
    os.mkdir(scratch, 0o700)
    program = os.path.join(root, "program.py")
    with open(program, "w", encoding="utf-8") as f:
        f.write(source)
    if drop_uid:
        os.chmod(root, 0o755)
        os.chmod(program, 0o644)
        os.chown(scratch, _NOBODY, _NOBODY)
    return os.path.realpath(scratch), program


@functools.cache
def probe_isolation() -> Isolation:
    """The isolation a run of model-written code gets on this machine (one trial run, then cached):
    recorded in the manifest of every run whose suite has python-test checks."""
    return run_python("pass", Limits(timeout_s=30)).isolation


def _world_runnable(path: str) -> bool:
    """Can ``nobody`` run this interpreter (every directory above it searchable by others)?"""
    real = Path(os.path.realpath(path))
    try:
        if real.stat().st_mode & 0o005 != 0o005:
            return False
        return all(p.stat().st_mode & 0o001 for p in real.parents)
    except OSError:
        return False


def run_python(
    source: str, limits: Limits | None = None, *, namespaces: bool = True, keep_uid: bool = False
) -> SandboxResult:
    """Run ``source`` as a Python program in the sandbox; never raises for anything the code does.

    ``namespaces=False`` skips the Linux namespaces (for measuring their cost, and for testing the
    fallback); the OS limits, session, scratch directory, environment and output caps always apply.
    ``keep_uid=True`` does not become ``nobody`` when started as root: for the harness's own tool code
    (``bench.suite.tools.worker``), which must read a workspace ``nobody`` may not, never for model code.
    """
    lim = limits or Limits()
    harden = harden_harness()
    cpu_s = lim.cpu_s if lim.cpu_s is not None else math.ceil(lim.timeout_s) + 1
    root = tempfile.mkdtemp(prefix="infercost-sandbox-")
    try:
        drop_uid = not keep_uid and os.geteuid() == 0 and _world_runnable(sys.executable)
        scratch, program = _prepare(root, source, drop_uid)
        info_r, info_w = os.pipe()
        cfg = {
            "info_fd": info_w,
            "scratch": scratch,
            "program": program,
            "python": sys.executable,
            "env": _env(scratch),
            "cpu_s": cpu_s,
            "memory_bytes": lim.memory_mb * 2**20,
            "file_size_bytes": lim.file_size_mb * 2**20,
            "open_files": lim.open_files,
            "max_procs": lim.max_procs,
            "namespaces": namespaces,
            "drop_uid": drop_uid,
        }
        cgroup = _PidsCgroup(lim.max_procs)
        cfg["cgroup"] = cgroup.path
        t0 = time.monotonic()
        deadline = t0 + lim.timeout_s
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", str(_LAUNCHER), json.dumps(cfg)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=scratch,
                env=_env(scratch),
                start_new_session=True,
                pass_fds=(info_w,),
            )
        finally:
            os.close(info_w)
        try:
            return _supervise(proc, info_r, lim, t0, deadline, harden, cgroup.path is not None)
        finally:
            cgroup.kill_all()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _supervise(
    proc: subprocess.Popen[bytes],
    info_r: int,
    lim: Limits,
    t0: float,
    deadline: float,
    harden: bool,
    cgroup: bool,
) -> SandboxResult:
    """Read the pipes with caps until the code exits (plus a short grace) or the deadline; then reap."""
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _Capped(lim.output_bytes), _Capped(lim.output_bytes)
    info_buf = bytearray()
    sel = selectors.DefaultSelector()
    sinks: dict[int, Any] = {proc.stdout.fileno(): out, proc.stderr.fileno(): err, info_r: info_buf}
    for fd in sinks:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    pidfd: int | None = None
    with contextlib.suppress(AttributeError, OSError):  # Linux >= 5.3: wake up the moment it exits
        pidfd = os.pidfd_open(proc.pid)
        sel.register(pidfd, selectors.EVENT_READ)
    status: int | None = None
    rusage: Any = None
    hwm_kib: int | None = None
    timed_out = False
    code_pid: int | None = None
    exited_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if status is None:
                reaped = _reap_if_exited(proc.pid)
                if reaped is not None:
                    status, rusage, exited_at = reaped[0], reaped[1], now
            open_fds = [fd for fd in sel.get_map() if fd != pidfd]
            if status is not None and (not open_fds or now >= (exited_at or now) + _EXIT_GRACE_S):
                break
            if now >= deadline:
                if status is None:
                    timed_out = True
                break
            wait = min(deadline - now, 0.05)
            if status is not None:
                wait = min(wait, (exited_at or now) + _EXIT_GRACE_S - now)
            for key, _ in sel.select(max(wait, 0.0)):
                fd = int(key.fd)
                if fd == pidfd:
                    sel.unregister(fd)  # exited: reaped at the top of the loop
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    sel.unregister(fd)
                    continue
                sink = sinks[fd]
                if isinstance(sink, bytearray):
                    if len(sink) < 4096:
                        sink += chunk
                        code_pid = _code_pid(sink) or code_pid
                else:
                    sink.feed(chunk)
    finally:
        sel.close()
        if pidfd is not None:
            os.close(pidfd)
        if status is None:
            code_pid = code_pid if code_pid is not None else _code_pid(info_buf)
            hwm_kib = _vm_hwm_kib(code_pid)  # the launcher dies with the code: its report never comes
            _kill(proc.pid, code_pid)
            end = time.monotonic() + _KILL_WAIT_S
            while status is None and time.monotonic() < end:
                pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    status, rusage = st, ru
                else:
                    time.sleep(0.01)
        for stream in (proc.stdout, proc.stderr):
            stream.close()
        os.close(info_r)
        proc.returncode = _returncode(status) if status is not None else -signal.SIGKILL
    wall = time.monotonic() - t0
    return SandboxResult(
        stdout=out.text(),
        stderr=err.text(),
        exit_code=proc.returncode if proc.returncode >= 0 else None,
        signal=-proc.returncode if proc.returncode < 0 else None,
        timed_out=timed_out,
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
        output_limit_bytes=lim.output_bytes,
        cpu_s=(rusage.ru_utime + rusage.ru_stime) if rusage is not None else 0.0,
        peak_rss_mb=_peak_rss_mb(info_buf, hwm_kib, rusage),
        wall_s=wall,
        isolation=_isolation(info_buf, harden, cgroup),
    )


def _reap_if_exited(pid: int) -> tuple[int, Any] | None:
    """(status, rusage) once the launcher has exited, after killing what the code left behind in its
    process group; None while it runs. Where ``waitid`` exists, the group is killed *before* reaping
    (while its id cannot be reused by another process)."""
    if hasattr(os, "waitid"):
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                return None
        except ChildProcessError:
            pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        try:
            _pid, status, rusage = os.wait4(pid, 0)
        except ChildProcessError:  # reaped elsewhere: nothing is known of how it ended
            return signal.SIGKILL, None
        return status, rusage
    got, status, rusage = os.wait4(pid, os.WNOHANG)  # pragma: no cover - macOS before Python 3.13
    if not got:  # pragma: no cover
        return None
    with contextlib.suppress(ProcessLookupError, PermissionError):  # pragma: no cover
        os.killpg(pid, signal.SIGKILL)
    return status, rusage  # pragma: no cover


def _info(buf: bytes | bytearray) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for line in bytes(buf).splitlines():
        with contextlib.suppress(ValueError):
            obj = json.loads(line)
            if isinstance(obj, dict):
                merged.update(obj)
    return merged


def _code_pid(buf: bytes | bytearray) -> int | None:
    pid = _info(buf).get("code_pid")
    return pid if isinstance(pid, int) and pid > 1 else None


def _isolation(buf: bytes | bytearray, harden: bool, cgroup: bool) -> Isolation:
    info = _info(buf)
    names = info.get("namespaces") or []
    return Isolation(
        platform=sys.platform,
        namespaces=tuple(str(n) for n in names),
        read_only_fs=bool(info.get("read_only_fs")),
        own_proc=bool(info.get("own_proc")),
        uid_dropped=bool(info.get("uid_dropped")),
        harness_undumpable=harden,
        pids_cgroup=cgroup and bool(info.get("cgroup_joined")),
    )


def _returncode(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def _vm_hwm_kib(pid: int | None) -> int | None:
    """The resident-memory high-water mark of a running process (Linux ``/proc``), read before killing it."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _peak_rss_mb(buf: bytes | bytearray, hwm_kib: int | None, rusage: Any) -> float:
    """The code's own peak RSS: the launcher's report of its child, else the high-water mark read before a
    kill, else the launcher's ``ru_maxrss`` (which on Linux includes the harness's own peak: see launcher)."""
    reported = _info(buf).get("code_maxrss")
    if isinstance(reported, int) and reported >= 0:
        return _rss_mb(reported)
    if hwm_kib is not None:
        return hwm_kib / 1024
    return _rss_mb(rusage.ru_maxrss) if rusage is not None else 0.0


def _rss_mb(maxrss: int) -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024
