"""Reading TOML/JSON files that users write, and turning pydantic errors into one-line messages.

Shared by the suite, profile and rules loaders so that every malformed file is reported the same way:
``FILE: FIELD: what is wrong (the fix)``, never a traceback.
"""

from __future__ import annotations

import difflib
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ValidationError

from bench.errors import BenchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "MAX_INPUT_BYTES",
    "describe_validation_error",
    "one_line",
    "open_regular",
    "read_text_file",
    "read_toml",
]


def one_line(text: str) -> str:
    """Messages are one line: control characters from user data (a key or id with a newline) are escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


# Suites, profiles and rules are small text (the default suite is 6 KiB); a path such as /dev/zero or a
# FIFO must be refused, not read until memory runs out or waited on forever.
MAX_INPUT_BYTES = 16 * 2**20


def _size_limit(max_bytes: int) -> str:
    return f"{max_bytes // 2**20} MiB" if max_bytes >= 2**20 else f"{max_bytes} bytes"


def open_regular(
    path: Path, error: type[BenchError], what: str, max_bytes: int = MAX_INPUT_BYTES
) -> BinaryIO:
    """Open ``path`` for reading (binary) if it is a regular file of at most ``max_bytes``; anything else
    — missing, a directory, a device such as /dev/zero, a FIFO, a socket, too large — is ``error`` with
    one line. It is stat'ed before it is opened (stat, unlike open, never blocks on a FIFO), opened
    without blocking, and checked again on the open descriptor (a file swapped in between)."""
    special = f"{path}: not a regular file (a device, FIFO or socket); give a {what} file"
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{path}: is a directory, not a {what} file")
        if not stat.S_ISREG(st.st_mode):
            raise error(special)
        if st.st_size > max_bytes:
            raise error(
                f"{path}: {st.st_size / 2**20:.1f} MiB is over the {_size_limit(max_bytes)} limit for a "
                f"{what} file"
            )
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} file: {exc.strerror}") from None
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # swapped after the stat above
        f.close()
        raise error(special)
    return f


def read_text_file(path: Path, error: type[BenchError], what: str) -> str:
    """Read a user-written text file, reporting a missing, unreadable, special, huge, binary or empty
    file clearly. Only regular files of at most ``MAX_INPUT_BYTES`` are read."""
    with open_regular(path, error, what) as f:
        try:
            raw = f.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise error(f"{path}: cannot read {what} file: {exc.strerror}") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise error(f"{path}: over the {MAX_INPUT_BYTES // 2**20} MiB limit for a {what} file")
    if b"\x00" in raw:
        raise error(f"{path}: binary data, not a {what} file (expected UTF-8 text)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}); save the {what} file as UTF-8") from None
    if not text.strip():
        raise error(f"{path}: empty {what} file")
    return text


def read_toml(path: Path, error: type[BenchError], what: str) -> dict[str, Any]:
    """Parse a TOML file; a syntax error names the file, line and column."""
    text = read_text_file(path, error, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(one_line(f"{path}: TOML syntax error: {exc}")) from None
    except (ValueError, RecursionError, OverflowError) as exc:  # e.g. out-of-range dates or numbers
        raise error(one_line(f"{path}: TOML value error: {exc}")) from None


def _loc_label(loc: Sequence[int | str], data: Any) -> str:
    """Render a pydantic location as ``tasks[3] (id "x").check.type``, walking the raw data for ids."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, Sequence) and not isinstance(node, str) and 0 <= item < len(node):
                node = node[item]
                if isinstance(node, Mapping) and isinstance(node.get("id"), str):
                    label += f' (id "{node["id"]}")'
            else:
                node = None
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
        else:
            # Discriminated unions add the tag as a location step ("check.exact.value"): drop it.
            if isinstance(node, Mapping) and item not in node and node.get("type") == item:
                continue
            parts.append(str(item))
            node = node.get(item) if isinstance(node, Mapping) else None
    return ".".join(parts) or "(top level)"


def _known_fields(model: type[BaseModel] | None, loc: Sequence[int | str]) -> list[str]:
    """Field names of the model that owns ``loc``'s parent, for "did you mean" suggestions."""
    if model is None:
        return []
    current: Any = model
    for item in loc[:-1]:
        if isinstance(item, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or item not in fields:
            return []
        annotation = fields[item].annotation
        current = _first_model(annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return list(fields)


def _first_model(annotation: Any) -> Any:
    """The first pydantic model inside an annotation such as ``list[Task] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def describe_validation_error(
    source: Path | str, exc: ValidationError, data: Any, model: type[BaseModel] | None = None
) -> str:
    """One line for the first error of a pydantic ``ValidationError``: file, field, problem and fix."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(err.get("loc", ()))
    where = _loc_label(loc, data)
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else "?"
        parent = ".".join(where.split(".")[:-1])
        hint = difflib.get_close_matches(name, _known_fields(model, loc), n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else "remove it"
        place = f"{parent}: " if parent else ""
        text = f"{source}: {place}unknown field '{name}' ({fix})"
    elif kind == "missing":
        text = f"{source}: {where}: required field is missing"
    elif kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        disc = str(ctx.get("discriminator", "type")).strip("'\"")
        tags = ctx.get("expected_tags", "?")
        text = f"{source}: {where}: unknown {disc} '{ctx.get('tag', '?')}' (use one of: {tags})"
    elif kind == "union_tag_not_found":
        ctx = err.get("ctx", {})
        text = f'{source}: {where}: missing {ctx.get("discriminator", "type")} (add type = "...")'
    else:
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        text = f"{source}: {where}: {msg}"
    extra = len(exc.errors()) - 1
    if extra > 0:
        text += f" [and {extra} more problem{'s' if extra > 1 else ''}]"
    return one_line(text)
