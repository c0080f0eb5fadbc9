"""What both engines share: migrations, the push transaction, queries and reading runs back.

A push is one transaction: every bundle in it becomes visible at commit, or none does (a bundle that
fails to read, a kill, a lost connection: the transaction rolls back). Within it, each run is stored
once: ``(run_id, content_sha256)`` already present → skipped. On PostgreSQL concurrent pushers serialize
per run on an advisory lock taken in run-id order before anything is inserted, and insert shared rows
(devices, models, suites) in one global order, so eight machines pushing overlapping bundles neither store
a run twice nor deadlock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BundleError, EnvironmentNotReady, UsageError
from bench.results.bundle import Bundle, gc_paused, read_bundle, read_manifest
from bench.results.db.filters import Where
from bench.results.db.mapping import (
    POWER_COLUMNS,
    RECORD_COLUMN_NAMES,
    RUN_COLUMNS,
    BundleRows,
    bundle_from_rows,
    bundle_rows,
    content_sha256,
    dimension_rows,
)
from bench.results.db.schema import DB_SCHEMA_VERSION, MIGRATIONS, Engine
from bench.results.db.url import StoreURL
from bench.results.schema import Manifest, Record

__all__ = [
    "ONE_STATEMENT_FIX", "Derive", "PushResult", "QueryLimits", "QueryResult", "Store", "check_user_sql",
    "query_timed_out", "utc_now",
]  # fmt: skip

# a bundle → its records with read-time figures filled (the CLI passes bench.cost.enrich's)
Derive = Callable[[Bundle], list[Record]]

_DIMENSIONS = (
    ("devices", "device_id", ("device_id", "name", "kind", "backend", "power_mode", "profile_json")),
    ("models", "model_id", ("model_id", "name", "sha256", "file_name", "info_json")),
    ("suites", "suite_hash", ("suite_hash", "name", "n_tasks")),
)
RECORD_TABLE_COLUMNS = ("run_id", "content_sha256", "seq", *RECORD_COLUMN_NAMES)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class PushResult:
    stored: list[str] = field(default_factory=list)  # run ids newly stored
    skipped: list[str] = field(default_factory=list)  # already stored with the same content
    records: int = 0  # records newly stored


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = False  # more rows existed than a user query's ``max_rows``


@dataclass(frozen=True)
class QueryLimits:
    """What one ``infercost db query`` may take (docs/database.md says what it can and cannot do).

    Embedded: a read-only connection with DuckDB's external access off (no file read or written, no
    extension installed, no ATTACH) unless ``allow_files``, ``memory_limit`` and ``threads`` fixed and the
    configuration locked (no ``SET`` lifts them), one statement, interrupted at ``timeout_s``.
    PostgreSQL: one SELECT through a server-side cursor in a READ ONLY transaction with
    ``statement_timeout``. Both fetch at most ``max_rows`` rows (and say when there were more)."""

    max_rows: int = 10_000
    timeout_s: float = 30.0
    memory_mb: int = 512
    threads: int = 2
    allow_files: bool = False


def check_user_sql(sql: str) -> None:
    """An empty query is a usage error with an example (each engine counts statements itself)."""
    if not sql.strip().strip(";").strip():
        raise UsageError(
            "db query: the query is empty",
            fix='give one SQL statement, e.g. "SELECT device_name, count(*) FROM current_runs GROUP BY 1"',
        )


ONE_STATEMENT_FIX = "give one statement: db query runs exactly one (no ';' between statements)"


def query_timed_out(limits: QueryLimits) -> UsageError:
    return UsageError(
        f"query stopped at its {limits.timeout_s:g} s limit",
        fix="narrow it (WHERE, LIMIT) or give more time with --timeout SECONDS",
    )


class Store(ABC):
    """One open database. Subclasses supply the connection and the engine's bulk insert."""

    engine: Engine

    def __init__(self, url: StoreURL) -> None:
        self.url = url
        self.display = url.display

    # ------------------------------------------------------------------ engine parts
    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult | None:
        """Run one statement (``?`` placeholders); returns rows when it yields them."""

    @abstractmethod
    def _transaction(self) -> contextlib.AbstractContextManager[None]: ...

    @abstractmethod
    def _insert_records(self, columns: dict[str, list[Any]]) -> None: ...

    def _flush_records(self) -> None:  # noqa: B027
        """Write buffered records (engines that batch across bundles)."""

    def _lock(self, keys: Iterable[str]) -> None:  # noqa: B027
        """Serialize concurrent writers on these keys until commit (PostgreSQL); no-op where one process
        holds the file."""

    def _replace_older(self, run_id: str) -> None:  # noqa: B027
        """Drop older versions of a run (embedded: the file mirrors the bundles); the shared store keeps
        them (its pushing role may only insert)."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def user_query(self, sql: str, limits: QueryLimits) -> QueryResult:
        """A user's SQL (``infercost db query``), read-only and bounded by ``limits``."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ schema
    def version(self) -> int | None:
        """The database's schema version; None for a database without infercost tables."""
        found = self._execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_meta' "
            "AND table_schema = current_schema()"
        )
        if found is None or not found.rows or not found.rows[0][0]:
            return None
        row = self._execute("SELECT value FROM schema_meta WHERE key = 'db_schema_version'")
        return int(row.rows[0][0]) if row and row.rows else None

    def check_version(self, version: int | None) -> None:
        if version is not None and version > DB_SCHEMA_VERSION:
            raise EnvironmentNotReady(
                f"{self.display}: the database is at schema version {version}, newer than this infercost "
                f"understands ({DB_SCHEMA_VERSION}); nothing was written",
                fix="upgrade infercost on this machine: pip install -U infercost",
            )

    def migrate(self) -> list[int]:
        """Apply the migrations this database lacks; returns the versions applied."""
        with self._transaction():
            self._lock(["infercost-schema-migration"])
            current = self.version()
            self.check_version(current)
            applied = []
            for m in MIGRATIONS:
                if current is not None and m.version <= current:
                    continue
                for st in m.statements:
                    if self.engine in st.engines:
                        self._execute(st.sql)
                applied.append(m.version)
            if applied:
                if current is None:
                    self._execute(
                        "INSERT INTO schema_meta (key, value) VALUES ('db_schema_version', ?)",
                        [str(DB_SCHEMA_VERSION)],
                    )
                else:
                    self._execute(
                        "UPDATE schema_meta SET value = ? WHERE key = 'db_schema_version'",
                        [str(DB_SCHEMA_VERSION)],
                    )
            return applied

    def ensure_schema(self) -> None:
        version = self.version()
        self.check_version(version)
        if version != DB_SCHEMA_VERSION:
            self.migrate()

    # ------------------------------------------------------------------ writing
    def _has(self, run_id: str, sha: str) -> bool:
        found = self._execute("SELECT 1 FROM runs WHERE run_id = ? AND content_sha256 = ?", [run_id, sha])
        return bool(found and found.rows)

    def _insert_row(self, table: str, row: dict[str, Any], columns: Sequence[str], conflict: bool) -> None:
        marks = ", ".join("?" for _ in columns)
        tail = " ON CONFLICT DO NOTHING" if conflict else ""
        self._execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}){tail}", [row[c] for c in columns]
        )

    def _insert_dimensions(self, manifests: Iterable[Manifest]) -> None:
        """Shared rows for every run of a push, table by table in key order (one global lock order)."""
        dims: dict[str, dict[str, dict[str, Any]]] = {table: {} for table, _, _ in _DIMENSIONS}
        for m in manifests:
            for table, row in dimension_rows(m).items():
                if row is not None:
                    pk = next(p for t, p, _ in _DIMENSIONS if t == table)
                    dims[table][str(row[pk])] = row
        for table, _pk, cols in _DIMENSIONS:
            for k in sorted(dims[table]):
                self._insert_row(table, dims[table][k], cols, conflict=True)

    def _write_bundle(self, rows: BundleRows, result: PushResult) -> None:
        if self._has(rows.run_id, rows.content_sha256):
            result.skipped.append(rows.run_id)
            return
        self._replace_older(rows.run_id)
        self._insert_row("runs", rows.run, RUN_COLUMNS, conflict=False)
        if rows.power is not None:
            self._insert_row("power_summaries", rows.power, POWER_COLUMNS, conflict=False)
        self._insert_records(rows.records)
        result.stored.append(rows.run_id)
        result.records += rows.n_records

    def write(
        self,
        refs: Sequence[str | Path],
        bad: list[str] | None = None,
        derive: Derive | None = None,
        replace: bool = False,
    ) -> PushResult:
        """Store bundles inside the caller's transaction.

        Order, the same for every writer: read every manifest (a bad one fails before anything is
        written), lock the run ids in sorted order, insert shared rows in key order, then each bundle's
        run, power summary and records (read one bundle at a time: a push of many bundles never holds
        all their records in memory). With ``bad`` given, an unreadable bundle is left out and its
        error appended there instead of failing the whole write. ``derive``: each bundle's records with
        read-time energy and cost filled (``bench.cost.enrich``), stored in their place so the database's
        figures (``report --summary``, history) are the report's, and a stored run read back elsewhere,
        without its ``power.csv``, keeps its energy. ``replace``: a bundle already stored is stored again
        (the embedded index re-deriving its figures); otherwise it is skipped."""
        with gc_paused():  # many long-lived objects per bundle: see bundle.gc_paused
            return self._write(refs, bad, derive, replace)

    def _write(
        self, refs: Sequence[str | Path], bad: list[str] | None, derive: Derive | None, replace: bool
    ) -> PushResult:
        heads = []
        for ref in refs:
            try:
                heads.append(read_manifest(ref))
            except BundleError as exc:
                if bad is None:
                    raise
                bad.append(str(exc))
        self._lock(sorted({m.run_id for _, m in heads}))
        self._insert_dimensions(m for _, m in heads)
        result = PushResult()
        stamp = utc_now()
        for path, manifest in heads:
            try:
                sha = content_sha256(path)  # before reading the records: a stored bundle is not read again
                if self._has(manifest.run_id, sha):
                    if not replace:
                        result.skipped.append(manifest.run_id)
                        continue
                    self._replace_older(manifest.run_id)
                bundle = read_bundle(path)
            except BundleError as exc:
                if bad is None:
                    raise
                bad.append(str(exc))
                continue
            if derive is not None:
                bundle = Bundle(bundle.path, bundle.manifest, derive(bundle), bundle.warnings)
            self._write_bundle(bundle_rows(bundle, sha, stamp, str(path)), result)
        self._flush_records()
        return result

    def push(self, refs: Sequence[str | Path], derive: Derive | None = None) -> PushResult:
        """Store bundles in one transaction: all visible at commit, or none."""
        with self._transaction():
            return self.write(refs, derive=derive)

    # ------------------------------------------------------------------ reading
    def query(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult:
        result = self._execute(sql, params)
        return result if result is not None else QueryResult([], [])

    def runs(self, where: Where) -> QueryResult:
        clause, params = where.sql()
        return self.query(
            "SELECT run_id, content_sha256, started_utc, device_name, model_name, suite_name, backend, "
            f"n_records, complete FROM current_runs WHERE {clause} ORDER BY started_utc, run_id",
            params,
        )

    def load_bundles(self, where: Where, complete_only: bool = False) -> list[Bundle]:
        """The current version of every run the filters match, as bundles, oldest first."""
        found = self.runs(where)
        bundles = []
        with gc_paused():
            for run_id, sha, *_rest in found.rows:
                bundles.append(self.load_bundle(run_id, sha))
        return [b for b in bundles if b.manifest.complete or not complete_only]

    def load_bundle(self, run_id: str, sha: str) -> Bundle:
        head = self.query(
            "SELECT manifest_json FROM runs WHERE run_id = ? AND content_sha256 = ?", [run_id, sha]
        )
        recs = self.query(
            f"SELECT {', '.join(RECORD_COLUMN_NAMES)} FROM records WHERE run_id = ? AND content_sha256 = ? "
            "ORDER BY seq",
            [run_id, sha],
        )
        return bundle_from_rows(head.rows[0][0], recs.columns, recs.rows, Path("store") / run_id)

    def iter_tables(self) -> Iterator[tuple[str, int]]:
        for table in ("runs", "records", "devices", "models", "suites", "power_summaries"):
            found = self.query(f"SELECT count(*) FROM {table}")
            yield table, int(found.rows[0][0])
