"""The sandbox's launcher: run as its own program (``python -I -S -B launcher.py CONFIG``), never imported.

It stands between the harness and the model-written code and sets up, *before* ``exec``, everything the
code must not be able to undo: a lower uid when started as root, Linux namespaces where the kernel allows
them (user, network, mount, PID), a read-only view of every filesystem except the scratch directory, a
fresh ``/proc`` that shows only the sandbox's own processes, and OS resource limits. Whatever the code
then does runs with those settings; nothing it can rewrite (a module global, an audit hook) is a guard.

It tells the harness what isolation took effect, and the outer pid of the code's process, on a private
pipe (``info_fd``) that the code's process closes before the code starts, so the code cannot forge that
report; when the code has ended, the launcher adds the code's own peak resident memory.

Standard library only, and no import of ``bench``: ``-I -S`` keeps the harness's paths out.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
NOBODY = 65534

_MOUNT_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
}


def _libc() -> Any:
    return ctypes.CDLL(
        None, use_errno=True
    )  # the C library is already loaded: no find_library (it runs ldconfig)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _drop_root(libc: Any) -> bool:
    """Started as root: become ``nobody`` so the code has no root privileges outside the sandbox."""
    if os.geteuid() != 0:
        return False
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    if libc is not None:
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # a uid change clears it; /proc/self/uid_map needs it
    return True


def _unshare(libc: Any, want_pid: bool) -> list[str]:
    """Enter new user (+ network, mount, PID) namespaces; returns the ones that took effect."""
    uid, gid = os.getuid(), os.getgid()
    attempts = [
        (CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | (CLONE_NEWPID if want_pid else 0)),
        CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS,
        CLONE_NEWUSER | CLONE_NEWNET,
    ]
    for flags in attempts:
        if libc.unshare(ctypes.c_int(flags)) == 0:
            # map our own uid/gid only, and never as uid 0 inside: after exec the code is an ordinary
            # user in the namespace, with no capabilities left to undo the mounts made here
            inner_uid = uid if uid != 0 else NOBODY
            inner_gid = gid if gid != 0 else NOBODY
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{inner_uid} {uid} 1")
            _write("/proc/self/gid_map", f"{inner_gid} {gid} 1")
            names = ["user", "net"]
            if flags & CLONE_NEWNS:
                names.append("mount")
            if flags & CLONE_NEWPID:
                names.append("pid")
            return names
    return []


def _mount(libc: Any, src: str | None, target: str, fstype: str | None, flags: int) -> bool:
    def enc(s: str | None) -> bytes | None:
        return s.encode() if s is not None else None

    return bool(libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), None) == 0)


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def _read_only_except(libc: Any, scratch: str) -> bool:
    """Every mount read-only except ``scratch`` (bind-mounted onto itself first). True when all held."""
    if not _mount(libc, None, "/", None, MS_REC | MS_PRIVATE):
        return False
    if not _mount(libc, scratch, scratch, None, MS_BIND | MS_REC):
        return False
    with open("/proc/self/mountinfo") as f:
        rows = [line.split() for line in f]
    ok = True
    for row in rows:
        target = _unescape(row[4])
        if target == scratch:
            continue
        opts = row[5].split(",")
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        for opt in opts:
            flags |= _MOUNT_FLAGS.get(opt, 0)
        # a locked atime setting we guessed wrong: retry with only the security flags kept
        plain = MS_BIND | MS_REMOUNT | MS_RDONLY | (flags & 0xF)
        if not _mount(libc, None, target, None, flags) and not _mount(libc, None, target, None, plain):
            ok = False
    return ok


def _limits(cfg: dict[str, Any]) -> None:
    cpu = int(cfg["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    mem = int(cfg["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    fsize = int(cfg["file_size_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    files = int(cfg["open_files"])
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nproc = getattr(resource, "RLIMIT_NPROC", None)
    if nproc is not None:
        limit = (
            int(cfg["max_procs"]) + _procs_of_uid(os.getuid())
            if not cfg.get("own_uid_ns")
            else int(cfg["max_procs"])
        )
        resource.setrlimit(nproc, (limit, limit))


def _procs_of_uid(uid: int) -> int:
    """RLIMIT_NPROC counts every process of the uid: the allowance is on top of those already running."""
    count = 0
    try:
        names = os.listdir("/proc")
    except OSError:
        return 0
    for name in names:
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count


def _drop_capabilities(libc: Any) -> None:
    """Still root (no user namespace, no lower uid possible): empty the capability bounding set, so the
    exec'd code is a uid-0 process *without* capabilities: it cannot read other processes' memory or
    environment (the harness is non-dumpable), bypass file permissions or raise its limits."""
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


def _exec(cfg: dict[str, Any]) -> None:
    os.chdir(cfg["scratch"])
    argv = [cfg["python"], "-I", "-S", "-B", cfg["program"]]
    os.execve(cfg["python"], argv, cfg["env"])


def main() -> None:
    cfg = json.loads(sys.argv[1])
    info_fd = int(cfg["info_fd"])
    info: dict[str, Any] = {"namespaces": [], "uid_dropped": False, "read_only_fs": False, "own_proc": False}
    linux = sys.platform.startswith("linux")
    libc = _libc() if linux else None
    if cfg.get("cgroup"):  # first, so every process started from here on is counted and killable
        try:
            _write(os.path.join(cfg["cgroup"], "cgroup.procs"), str(os.getpid()))
            info["cgroup_joined"] = True
        except OSError:
            info["cgroup_joined"] = False
    if cfg.get("drop_uid"):
        try:
            info["uid_dropped"] = _drop_root(libc)
        except OSError as exc:
            info["uid_error"] = str(exc)
    if libc is not None:
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid binary can raise privileges again
        if cfg.get("namespaces", True):
            try:
                info["namespaces"] = _unshare(libc, want_pid=True)
            except OSError:
                info["namespaces"] = []
            if "mount" in info["namespaces"]:
                try:
                    info["read_only_fs"] = _read_only_except(libc, cfg["scratch"])
                except (OSError, IndexError):  # an unreadable or unexpected mountinfo
                    info["read_only_fs"] = False
    cfg["own_uid_ns"] = own_pid_ns = "pid" in info["namespaces"]
    if libc is not None and os.geteuid() == 0 and not info["namespaces"]:
        os.setgroups([])
        _drop_capabilities(libc)
        info["capabilities_dropped"] = True
    # The code always runs in a child of this (small, freshly exec'd) process, never in the launcher's own
    # process: the launcher was started from the harness, and Linux carries the harness's resident-memory
    # high-water mark through that exec into ``ru_maxrss``; the child's own figure starts from ours.
    # With a new PID namespace the child also becomes the namespace's init: when it ends, the kernel kills
    # every process left in the namespace, including any that left the process group.
    pid = os.fork()
    if pid == 0:
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if own_pid_ns:
            own = _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            os.write(info_fd, (json.dumps({"own_proc": own}) + "\n").encode())
        os.close(info_fd)
        _limits(cfg)
        _exec(cfg)
        return
    info["code_pid"] = pid
    os.write(info_fd, (json.dumps(info) + "\n").encode())
    _pid, status, usage = os.wait4(pid, 0)
    # written after the code ended, so the code cannot forge it
    os.write(info_fd, (json.dumps({"code_maxrss": usage.ru_maxrss}) + "\n").encode())
    os.close(info_fd)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


if __name__ == "__main__":
    main()
