"""Result bundles: ``reports/runs/<run_id>/`` with ``manifest.json`` and ``records.jsonl``.

Written as the run goes (hyperfine exports after each benchmark; we append after each request): every
record is one JSON line, written and flushed as the request ends, so a crash or Ctrl-C loses nothing
that finished. The manifest is rewritten atomically (temp file + rename) at start and at end; a bundle
whose manifest says ``complete: false`` was interrupted.

A bundle directory never exists without its manifest: it is assembled as ``.<run_id>.partial`` and
renamed into place once the manifest is written, so a ``kill -9`` at any moment leaves either no bundle
or one that loads. A resumed run (``--resume``) reopens the bundle for appending after cutting off a
torn last line, so the line it writes next cannot turn that fragment into a corrupt middle line. A record
cut short by Ctrl-C (``cancelled``) and run again on resume is *superseded*: readers see each request
slot (task, repetition, warmup) once, the file keeps both lines.

Reading refuses schema versions it does not know, with what to do; a torn *last* line (a run killed
mid-write) is dropped with a warning, while a corrupt line anywhere else is an error. Only regular files
are read (``userfiles.open_regular``): a manifest or records file that is a FIFO, a device such as
``/dev/zero`` or a link to one is refused at once, as are records over ``MAX_RECORDS_BYTES``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import ValidationError

from bench.errors import BundleError, EnvironmentNotReady, UsageError
from bench.paths import DEFAULT_RUNS_ROOT
from bench.redaction import scrub_secrets
from bench.results.schema import SCHEMA_VERSION, Manifest, Record
from bench.userfiles import open_regular, read_text_file

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_RUNS_ROOT",
    "Bundle",
    "BundleWriter",
    "atomic_write_json",
    "check_writable",
    "effective_records",
    "estimate_bundle_bytes",
    "gc_paused",
    "read_bundle",
    "read_manifest",
    "records_frame",
    "remember_run",
    "resolve_bundle",
]

MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
# Read like suites: regular files only, within a size (a million requests' records are about 1.5 GiB).
MAX_RECORDS_BYTES = 4 * 2**30


# What one record costs on disk: ~1.5 KiB of fields, plus per generated token a float in ``itl_ms`` and a
# few bytes of escaped text (measured: the default suite's records average 1.1 KiB + 14 B/token).
RECORD_BASE_BYTES = 2048
RECORD_BYTES_PER_TOKEN = 24
MIN_FREE_BYTES = 16 * 2**20


def estimate_bundle_bytes(n_requests: int, max_tokens_per_request: int) -> int:
    """A generous upper estimate of the records a run will write (every request at its token limit)."""
    return n_requests * (RECORD_BASE_BYTES + RECORD_BYTES_PER_TOKEN * max_tokens_per_request)


def check_writable(root: Path, need_bytes: int = 0) -> None:
    """Fail before the run, not after it, when results could not be saved.

    ``need_bytes`` is the estimated size of the records (``estimate_bundle_bytes``); the run needs twice
    that plus ``MIN_FREE_BYTES`` free, since other programs write to the same disk while it runs.
    """
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
    want = 2 * need_bytes + MIN_FREE_BYTES
    if free is not None and free < want:
        raise UsageError(
            f"{root}: only {free / 2**20:.1f} MiB free; this run needs about {want / 2**20:.1f} MiB "
            "(its records at their token limits, twice over, plus 16 MiB)",
            fix="free disk space or choose another disk with --out DIR",
        )


def _free_bytes(path: Path) -> int | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    """Write, fsync, rename: a reader (or a kill -9) sees the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(scrub_secrets(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False)))
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class BundleWriter:
    """Owns one bundle directory while a run writes it.

    ``append=False`` creates a new bundle (the directory must not exist); ``append=True`` reopens an
    existing one for a resumed run.
    """

    def __init__(self, run_dir: Path, manifest: Manifest, *, append: bool = False) -> None:
        self.run_dir = run_dir
        self.manifest = manifest
        self.repaired_bytes = 0
        if append:
            if not (run_dir / MANIFEST).is_file():
                raise BundleError(f"{run_dir}: not a result bundle (no {MANIFEST})")
            for stale in run_dir.glob(f".{MANIFEST}.*.tmp"):
                stale.unlink(missing_ok=True)
            self.repaired_bytes = _cut_torn_tail(run_dir / RECORDS)
            self.write_manifest()
        else:
            self._create()
        try:
            self._records: IO[str] = (run_dir / RECORDS).open("a", encoding="utf-8")
        except OSError as exc:
            raise BundleError(f"{run_dir / RECORDS}: cannot open for writing: {exc.strerror}") from None

    def _create(self) -> None:
        """Write the manifest into a hidden directory, then rename it into place: never a bundle without
        a manifest, whenever the process dies."""
        if self.run_dir.exists():
            raise BundleError(f"{self.run_dir}: already exists; a new run never writes into an old bundle")
        partial = self.run_dir.with_name(f".{self.run_dir.name}.partial")
        partial.mkdir(parents=True)
        atomic_write_json(partial / MANIFEST, self.manifest.model_dump(mode="json"))
        os.replace(partial, self.run_dir)

    def write_manifest(self) -> None:
        atomic_write_json(self.run_dir / MANIFEST, self.manifest.model_dump(mode="json"))

    def append(self, record: Record) -> None:
        """One line per request, flushed at once: a kill -9 after this returns loses nothing."""
        try:
            self._records.write(scrub_secrets(record.model_dump_json(exclude_none=False)) + "\n")
            self._records.flush()
        except OSError as exc:
            raise EnvironmentNotReady(
                f"{self.run_dir / RECORDS}: cannot write a record ({exc.strerror or exc}); "
                "the records before it are kept",
                fix=f"free disk space, then continue with: infercost run --resume {self.run_dir}",
            ) from None

    def close(self) -> None:
        if not self._records.closed:
            with contextlib.suppress(OSError):  # a full disk must not hide the error that stopped the run
                self._records.flush()
                os.fsync(self._records.fileno())
            with contextlib.suppress(OSError):
                self._records.close()


def _cut_torn_tail(file: Path) -> int:
    """Truncate a records file after its last newline (a line torn by a kill); returns bytes removed."""
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        return 0
    if size == 0:
        return 0
    with file.open("rb+") as f:
        chunk = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            block = f.read(pos - start)
            nl = block.rfind(b"\n")
            if nl >= 0:
                keep = start + nl + 1
                break
            pos = start
        else:
            keep = 0
        if keep < size:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
    return size - keep


@dataclass
class Bundle:
    """A bundle read back: its manifest, its records, and where it lives."""

    path: Path
    manifest: Manifest
    records: list[Record]
    warnings: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        return records_frame(self.records)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while many long-lived objects are built.

    Reading 100,000 records allocates millions of objects that all survive (models, their ``itl_ms``
    lists), so the collector's generation sweeps re-walk everything already read, again and again:
    measured on the 100,000-record report benchmark, reading and enriching took 4.9 s CPU with the
    collector on and 1.7 s with it paused. Nothing here makes reference cycles worth collecting early.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _slot(r: Record) -> tuple[str, int, bool]:
    return (r.task_id, r.repetition, r.warmup)


def effective_records(records: list[Record]) -> list[Record]:
    """Records without the ``cancelled`` ones whose slot a resumed run filled later (file order kept)."""
    filled = {_slot(r) for r in records if r.status != "cancelled"}
    return [r for r in records if r.status != "cancelled" or _slot(r) not in filled]


def records_frame(records: list[Record]) -> pd.DataFrame:
    import pandas as pd  # here, not at the top: pandas costs ~0.3 s of every command's start-up

    """Records as a pandas frame, one row per request (lists such as ``itl_ms`` stay lists)."""
    if not records:
        return pd.DataFrame(columns=list(Record.model_fields))
    return pd.DataFrame([r.model_dump() for r in records])


# run id → where a run written outside the runs root (``run --out DIR``) lives, one line a run, appended
RUN_INDEX = "elsewhere.tsv"


def remember_run(run_dir: Path, runs_root: Path = DEFAULT_RUNS_ROOT) -> None:
    """Note where a run written outside ``runs_root`` lives, so every command can name it by its id
    (``resolve_bundle``). Best effort: a read-only runs root only means the id must be given as a path."""
    where = run_dir.resolve()
    if where.parent == runs_root.resolve():
        return
    with contextlib.suppress(OSError):
        runs_root.mkdir(parents=True, exist_ok=True)
        with (runs_root / RUN_INDEX).open("a", encoding="utf-8") as f:
            f.write(f"{run_dir.name}\t{where}\n")


def _remembered(ref: str, runs_root: Path) -> Path | None:
    """The newest remembered location of run id ``ref`` that still holds its bundle."""
    try:
        lines = (runs_root / RUN_INDEX).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in reversed(lines):
        name, _, where = line.partition("\t")
        if name == ref and where and (Path(where) / MANIFEST).exists():
            return Path(where)
    return None


def resolve_bundle(ref: str | Path, runs_root: Path = DEFAULT_RUNS_ROOT) -> Path:
    """A bundle directory, or a run id looked up under the runs root (or where ``remember_run`` noted a
    run written elsewhere with ``--out``)."""
    path = Path(ref)
    if (path / MANIFEST).exists():
        return path
    candidate = runs_root / str(ref)
    if (candidate / MANIFEST).exists():
        return candidate
    if "/" not in str(ref) and (elsewhere := _remembered(str(ref), runs_root)) is not None:
        return elsewhere
    if path.is_dir():
        raise BundleError(f"{path}: not a result bundle (no {MANIFEST})")
    raise BundleError(f"no bundle '{ref}' (not a directory, and no run id of that name under {runs_root})")


def _read_manifest(path: Path) -> Manifest:
    file = path / MANIFEST
    try:
        data = json.loads(read_text_file(file, BundleError, "manifest"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{file}: corrupt manifest (not JSON: {exc})") from None
    except RecursionError:
        raise BundleError(f"{file}: corrupt manifest (nested too deeply to be a manifest)") from None
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


def read_manifest(ref: str | Path, runs_root: Path = DEFAULT_RUNS_ROOT) -> tuple[Path, Manifest]:
    """A bundle's directory and manifest alone (what a database push locks and files a run under before
    reading its records)."""
    path = resolve_bundle(ref, runs_root)
    return path, _read_manifest(path)


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
    raw = b""
    if os.path.lexists(file):  # no records yet is a bundle; a FIFO, /dev/zero or a 1 TB file is not
        with open_regular(file, BundleError, "records", MAX_RECORDS_BYTES) as f:
            raw = f.read(MAX_RECORDS_BYTES + 1)
        if len(raw) > MAX_RECORDS_BYTES:
            raise BundleError(f"{file}: over the {MAX_RECORDS_BYTES // 2**30} GiB limit for a records file")
    lines = raw.split(b"\n")
    last_index = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            # parsed and validated in one pass by pydantic-core: 2.5x faster than json.loads + validate,
            # which is most of the time a 100,000-record report takes
            records.append(Record.model_validate_json(line))
        except (ValueError, UnicodeDecodeError, ValidationError, RecursionError) as exc:
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
    return Bundle(path=path, manifest=manifest, records=effective_records(records), warnings=notes)
