"""read_file, list_files and grep over a task's workspace: a read-only directory shipped in ``prompts/``.

Every path the model gives is resolved (symlinks included) and must stay inside the workspace root; an
absolute path, ``..`` or a link pointing out is refused as a tool error, never read.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["ToolFailure", "confined", "grep", "list_files", "read_file"]

_MAX_FILE_BYTES = 2_000_000  # files larger than this are not read at all (the workspace is small)
_MAX_GREP_HITS = 50


class ToolFailure(Exception):
    """A tool could not do what was asked; the message is what the model sees."""


def confined(root: Path, relative: str) -> Path:
    """``relative`` resolved inside ``root``; raises ``ToolFailure`` when it would leave it."""
    if "\x00" in relative:
        raise ToolFailure("path contains a NUL byte")
    base = root.resolve()
    target = (base / relative.lstrip("/")).resolve() if relative not in ("", ".") else base
    if target != base and base not in target.parents:
        raise ToolFailure(f"path '{relative}' is outside the workspace")
    return target


def read_file(root: Path, path: str, offset_line: int = 0, max_lines: int = 200) -> str:
    target = confined(root, path)
    if not target.is_file():
        raise ToolFailure(f"no such file: {path}")
    if target.stat().st_size > _MAX_FILE_BYTES:
        raise ToolFailure(f"{path} is too large to read ({target.stat().st_size} bytes)")
    lines = target.read_text(encoding="utf-8", errors="replace").splitlines()
    chunk = lines[max(offset_line, 0) : max(offset_line, 0) + max(max_lines, 1)]
    more = len(lines) - (max(offset_line, 0) + len(chunk))
    tail = f"\n[... {more} more lines; read on with offset_line]" if more > 0 else ""
    return "\n".join(chunk) + tail


def list_files(root: Path, path: str = ".") -> str:
    target = confined(root, path)
    if not target.is_dir():
        raise ToolFailure(f"no such directory: {path}")
    base = root.resolve()
    entries = []
    for p in sorted(target.rglob("*")):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(base).parts):
            entries.append(f"{p.relative_to(base).as_posix()}\t{p.stat().st_size} bytes")
    return "\n".join(entries) or "(empty)"


def grep(root: Path, pattern: str, path: str = ".") -> str:
    try:
        rx = re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ToolFailure(f"bad regular expression: {exc}") from None
    target = confined(root, path)
    files = [target] if target.is_file() else sorted(p for p in target.rglob("*") if p.is_file())
    base = root.resolve()
    hits: list[str] = []
    for f in files:
        if f.stat().st_size > _MAX_FILE_BYTES or f.suffix in (".db", ".sqlite"):
            continue
        for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if rx.search(line):
                hits.append(f"{f.relative_to(base).as_posix()}:{n}: {line}")
                if len(hits) >= _MAX_GREP_HITS:
                    return "\n".join(hits) + f"\n[stopped at {_MAX_GREP_HITS} matches]"
    if not hits:
        return "(no matches)"
    return "\n".join(hits) + f"\n[{len(hits)} match{'es' if len(hits) != 1 else ''}]"
