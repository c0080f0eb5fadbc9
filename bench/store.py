"""Result bundles: ``reports/runs/<run_id>/`` with ``manifest.json`` and ``records.jsonl``.

Written as the run goes (hyperfine exports after each benchmark; we append after each request): every
record is one JSON line, written and flushed as the request ends, so a crash or Ctrl-C loses nothing
that finished. The manifest is rewritten atomically (temp file + rename) at start and at end; a bundle
whose manifest says ``complete: false`` was interrupted.

Reading refuses schema versions it does not know, with what to do; a torn *last* line (a run killed
mid-write) is dropped with a warning, while a corrupt line anywhere else is an error.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd
from pydantic import ValidationError

from bench.errors import BundleError, UsageError
from bench.schema import SCHEMA_VERSION, Manifest, Record

__all__ = [
    "DEFAULT_RUNS_ROOT",
    "Bundle",
    "BundleWriter",
    "check_writable",
    "read_bundle",
    "records_frame",
    "resolve_bundle",
]

DEFAULT_RUNS_ROOT = Path("reports") / "runs"
MANIFEST = "manifest.json"
RECORDS = "records.jsonl"


def check_writable(root: Path) -> None:
    """Fail before the run, not after it, when results could not be saved."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(
            f"{root}: output directory is not writable ({exc.strerror or exc})",
            fix="choose another with --out DIR",
        ) from None
    free = _free_bytes(root)
    if free is not None and free < 16 * 2**20:
        raise UsageError(
            f"{root}: only {free // 2**20} MiB free; results need space", fix="free disk or use --out"
        )


def _free_bytes(path: Path) -> int | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def _atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=False, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class BundleWriter:
    """Owns one bundle directory while a run writes it."""

    def __init__(self, run_dir: Path, manifest: Manifest, *, append: bool = False) -> None:
        self.run_dir = run_dir
        self.manifest = manifest
        run_dir.mkdir(parents=True, exist_ok=append)
        self.write_manifest()
        self._records: IO[str] = (run_dir / RECORDS).open("a", encoding="utf-8")

    def write_manifest(self) -> None:
        _atomic_write_json(self.run_dir / MANIFEST, self.manifest.model_dump(mode="json"))

    def append(self, record: Record) -> None:
        """One line per request, flushed at once: a kill -9 after this returns loses nothing."""
        self._records.write(record.model_dump_json(exclude_none=False) + "\n")
        self._records.flush()

    def close(self) -> None:
        if not self._records.closed:
            self._records.flush()
            os.fsync(self._records.fileno())
            self._records.close()


@dataclass
class Bundle:
    """A bundle read back: its manifest, its records, and where it lives."""

    path: Path
    manifest: Manifest
    records: list[Record]
    warnings: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        return records_frame(self.records)


def records_frame(records: list[Record]) -> pd.DataFrame:
    """Records as a pandas frame, one row per request (lists such as ``itl_ms`` stay lists)."""
    if not records:
        return pd.DataFrame(columns=list(Record.model_fields))
    return pd.DataFrame([r.model_dump() for r in records])


def resolve_bundle(ref: str | Path, runs_root: Path = DEFAULT_RUNS_ROOT) -> Path:
    """A bundle directory, or a run id looked up under the runs root."""
    path = Path(ref)
    if (path / MANIFEST).exists():
        return path
    candidate = runs_root / str(ref)
    if (candidate / MANIFEST).exists():
        return candidate
    if path.is_dir():
        raise BundleError(f"{path}: not a result bundle (no {MANIFEST})")
    raise BundleError(f"no bundle '{ref}' (not a directory, and no run id of that name under {runs_root})")


def _read_manifest(path: Path) -> Manifest:
    file = path / MANIFEST
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BundleError(f"{file}: cannot read: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{file}: corrupt manifest (not JSON: {exc})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{file}: corrupt manifest (not a JSON object)")
    version = data.get("schema_version")
    if not isinstance(version, int):
        raise BundleError(f"{file}: no schema_version; this is not an infercost bundle")
    if version > SCHEMA_VERSION:
        raise BundleError(
            f"{file}: schema version {version} is newer than this infercost understands ({SCHEMA_VERSION})",
            fix="upgrade infercost: pip install -U infercost",
        )
    if version < 1:
        raise BundleError(
            f"{file}: schema version {version} is unknown", fix="re-run the suite to make a new bundle"
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BundleError(f"{file}: invalid manifest: {where}: {first['msg']}") from None


def _line_error(exc: Exception) -> str:
    """The first concrete problem of a bad line ("run_id: Input should be a valid string")."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return (f"{where}: " if where else "") + str(first["msg"])[:120]
    return str(exc).splitlines()[0][:120]


def read_bundle(ref: str | Path, runs_root: Path = DEFAULT_RUNS_ROOT) -> Bundle:
    """Load a bundle; raises ``BundleError`` with a one-line reason, warns about a torn last line."""
    path = resolve_bundle(ref, runs_root)
    manifest = _read_manifest(path)
    notes: list[str] = []
    records: list[Record] = []
    file = path / RECORDS
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raw = b""
    except OSError as exc:
        raise BundleError(f"{file}: cannot read: {exc.strerror}") from None
    lines = raw.split(b"\n")
    last_index = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            # parsed and validated in one pass by pydantic-core: 2.5x faster than json.loads + validate,
            # which is most of the time a 100,000-record report takes
            records.append(Record.model_validate_json(line))
        except (ValueError, UnicodeDecodeError, ValidationError) as exc:
            torn = i == last_index and not raw.endswith(b"\n")
            if torn:
                msg = f"{file}: dropped a torn last line (the run was killed while writing it)"
                notes.append(msg)
                warnings.warn(msg, stacklevel=2)
                continue
            reason = _line_error(exc)
            raise BundleError(
                f"{file}: line {i + 1} is corrupt ({reason}); fix or remove that line"
            ) from None
    return Bundle(path=path, manifest=manifest, records=records, warnings=notes)
