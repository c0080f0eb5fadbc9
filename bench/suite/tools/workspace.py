"""read_file, list_files and grep over a task's workspace: a read-only directory shipped in ``prompts/``.

Confinement: a path the model gives is resolved here, one component at a time (``resolve_inside``),
never by the OS: a symlink met at any depth is read and its target checked *lexically* against the
workspace root before anything at the target is touched, so a link out of the workspace (to
``/proc/self/environ``, ``/etc/shadow``, a parent directory) is refused without being opened or even
stat'ed, and a link loop is a tool error after ``_MAX_LINKS`` hops, not an exception. Walks
(``list_files``, ``grep``) never descend into a linked directory, show a link that leaves the workspace
as such (no size: its target is not stat'ed) and open only regular files (a FIFO or device in a
workspace would block or never end).

These functions run inside the tool worker (``worker.py``: a sandboxed process with a deadline and a
memory cap), so they import the standard library only; the caps here keep the work small, the worker's
limits bound whatever slips past them (a regex that backtracks for minutes).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ToolFailure", "confined", "grep", "list_files", "read_file", "resolve_inside"]

_MAX_FILE_BYTES = 2_000_000  # files larger than this are not read at all (the workspace is small)
_MAX_GREP_HITS = 50
_MAX_GREP_BYTES = 20_000_000  # grep reads at most this much in one call, over all files
_MAX_ENTRIES = 5_000  # a walk stops after this many entries
_MAX_LINKS = 40  # symlinks followed while resolving one path (Linux's own limit); more is a loop
_MAX_LINE_CHARS = 500  # a grep hit shows at most this much of its line


class ToolFailure(Exception):
    """A tool could not do what was asked; the message is what the model sees."""


def _inside(base: str, path: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def resolve_inside(root: Path, relative: str) -> str:
    """``relative`` resolved under ``root`` without ever leaving it (see the module docstring): the real
    path of an existing entry inside the workspace, or ``ToolFailure`` (outside, missing, a loop)."""
    if "\x00" in relative:
        raise ToolFailure("path contains a NUL byte")
    base = os.path.realpath(root)
    parts = [p for p in relative.lstrip("/").split("/") if p not in ("", ".")]
    current, links = base, 0
    while parts:
        name = parts.pop(0)
        if name == "..":
            if current == base:
                raise ToolFailure(f"path '{relative}' is outside the workspace")
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, name)  # inside: current is, and name is one plain component
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            raise ToolFailure(f"no such file or directory: {relative}") from None
        except NotADirectoryError:
            raise ToolFailure(f"not a directory on the way to {relative}") from None
        if not stat.S_ISLNK(st.st_mode):
            current = candidate
            continue
        links += 1
        if links > _MAX_LINKS:
            raise ToolFailure(f"path '{relative}' has a symlink loop (more than {_MAX_LINKS} links)")
        target = os.readlink(candidate)
        if os.path.isabs(target):
            target = os.path.normpath(target)
            if not _inside(base, target):
                raise ToolFailure(f"path '{relative}' is a link that leaves the workspace (not followed)")
            current = base
            target = os.path.relpath(target, base)
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return current


def confined(root: Path, relative: str) -> Path:
    """``relative`` resolved inside ``root`` (``resolve_inside``) as a ``Path``."""
    return Path(resolve_inside(root, relative))


def _read_regular(real: str, shown: str) -> str:
    """The text of a regular file of at most ``_MAX_FILE_BYTES``; anything else is a ``ToolFailure``.
    Opened without blocking (a FIFO) and without following a last-moment link, then checked again."""
    try:
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ToolFailure(f"{shown} is a link (not followed)") from None
        raise ToolFailure(f"cannot open {shown}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise ToolFailure(f"{shown} is a directory (list_files shows what is in it)")
        if not stat.S_ISREG(st.st_mode):
            raise ToolFailure(f"{shown} is not a regular file (a device, FIFO or socket)")
        if st.st_size > _MAX_FILE_BYTES:
            raise ToolFailure(f"{shown} is too large to read ({st.st_size} bytes)")
        raw = f.read(_MAX_FILE_BYTES + 1)
    if len(raw) > _MAX_FILE_BYTES:
        raise ToolFailure(f"{shown} is too large to read (over {_MAX_FILE_BYTES} bytes)")
    if b"\x00" in raw:  # as grep -I: a database or an image is not text to hand the model
        raise ToolFailure(f"{shown} is a binary file, not text")
    return raw.decode("utf-8", errors="replace")


def read_file(root: Path, path: str, offset_line: int = 0, max_lines: int = 200) -> str:
    real = resolve_inside(root, path)
    lines = _read_regular(real, path).splitlines()
    chunk = lines[max(offset_line, 0) : max(offset_line, 0) + max(max_lines, 1)]
    more = len(lines) - (max(offset_line, 0) + len(chunk))
    tail = f"\n[... {more} more lines; read on with offset_line]" if more > 0 else ""
    return "\n".join(chunk) + tail


@dataclass(frozen=True, slots=True)
class _Entry:
    rel: str  # path relative to the workspace root, '/'-separated
    real: str | None  # the regular file to read (None: not readable, see ``note``)
    size: int | None
    note: str | None = None  # why it is not a regular file of the workspace


def _walk(root: Path, top: str) -> Iterator[_Entry]:
    """Every non-hidden entry below ``top`` (a real directory inside ``root``), depth first, never
    descending into a linked directory and never touching what a link outside points at."""
    base = os.path.realpath(root)
    stack, seen = [top], 0
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            seen += 1
            if seen > _MAX_ENTRIES:
                yield _Entry("", None, None, f"[stopped after {_MAX_ENTRIES} entries]")
                return
            rel = os.path.relpath(e.path, base).replace(os.sep, "/")
            if e.is_symlink():
                try:
                    real = resolve_inside(root, rel)
                except ToolFailure:
                    yield _Entry(
                        rel, None, None, "link out of the workspace, broken or looping (not followed)"
                    )
                    continue
                st = os.stat(real)  # inside the workspace: checked above
                if stat.S_ISREG(st.st_mode):
                    yield _Entry(rel, real, st.st_size)
                else:
                    yield _Entry(rel, None, None, "link to a directory or special file (not followed)")
            elif e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            elif e.is_file(follow_symlinks=False):
                yield _Entry(rel, e.path, e.stat(follow_symlinks=False).st_size)
            else:
                yield _Entry(rel, None, None, "not a regular file (not read)")


def _start(root: Path, path: str) -> tuple[str, bool]:
    """The real path ``path`` names inside the workspace, and whether it is a directory."""
    real = resolve_inside(root, path)
    try:
        return real, stat.S_ISDIR(os.stat(real).st_mode)
    except OSError as exc:
        raise ToolFailure(f"cannot read {path}: {exc.strerror}") from None


def list_files(root: Path, path: str = ".") -> str:
    real, is_dir = _start(root, path)
    if not is_dir:
        raise ToolFailure(f"no such directory: {path}")
    lines = []
    for e in _walk(root, real):
        if e.real is not None:
            lines.append(f"{e.rel}\t{e.size} bytes")
        elif e.rel:
            lines.append(f"{e.rel}\t{e.note}")
        else:
            lines.append(str(e.note))
    return "\n".join(lines) or "(empty)"


def grep(root: Path, pattern: str, path: str = ".") -> str:
    try:
        rx = re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ToolFailure(f"bad regular expression: {exc}") from None
    real, is_dir = _start(root, path)
    if is_dir:
        files = [(e.rel, e.real) for e in _walk(root, real) if e.real is not None]
    else:
        files = [(os.path.relpath(real, os.path.realpath(root)).replace(os.sep, "/"), real)]
    hits: list[str] = []
    budget = _MAX_GREP_BYTES
    for rel, file in files:
        if rel.endswith((".db", ".sqlite")):
            continue
        try:
            text = _read_regular(file, rel)
        except ToolFailure:
            continue  # too large or not readable: grep searches what it can, as grep -s does
        budget -= len(text)
        if budget < 0:
            hits.append(f"[stopped: read {_MAX_GREP_BYTES} bytes]")
            break
        for n, line in enumerate(text.splitlines(), 1):
            if rx.search(line):
                shown = line if len(line) <= _MAX_LINE_CHARS else line[:_MAX_LINE_CHARS] + " [...]"
                hits.append(f"{rel}:{n}: {shown}")
                if len(hits) >= _MAX_GREP_HITS:
                    return "\n".join(hits) + f"\n[stopped at {_MAX_GREP_HITS} matches]"
    if not hits:
        return "(no matches)"
    n_hits = sum(1 for h in hits if not h.startswith("[stopped"))
    return "\n".join(hits) + f"\n[{n_hits} match{'es' if n_hits != 1 else ''}]"
