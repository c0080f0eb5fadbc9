"""The embedded default: a DuckDB file under reports/, kept in step with the bundles by ``sync``.

DuckDB rather than SQLite because the queries here are analytical (scan a metric over a million
records, group by run) and the load is bulk; ``tests/benchmarks/bench_db.py`` measures both on this
project's figures and docs/database.md gives the numbers.

The file mirrors the bundles under a runs root and can always be deleted and rebuilt from them. ``sync``
is incremental: it remembers each bundle's (size, mtime) fingerprint and reads only bundles that are
new or changed; a changed bundle replaces its older version; a bundle gone from disk leaves the file.
One process writes the file at a time (DuckDB's own lock); a second one gets a clear message.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from bench.errors import BundleError, EnvironmentNotReady, UsageError
from bench.results.bundle import MANIFEST, RECORDS, read_manifest
from bench.results.db.schema import SYNC_SOURCES_TABLE
from bench.results.db.store import (
    ONE_STATEMENT_FIX,
    RECORD_TABLE_COLUMNS,
    Derive,
    PushResult,
    QueryLimits,
    QueryResult,
    Store,
    check_user_sql,
    query_timed_out,
)
from bench.results.db.url import StoreURL

__all__ = ["EmbeddedStore", "SyncResult", "find_bundle_dirs", "open_embedded", "query_config"]

FLUSH_ROWS = 200_000  # records buffered before one bulk insert (one frame scan beats many small ones)
_SOURCES = SYNC_SOURCES_TABLE


class EmbeddedStore(Store):
    engine = "duckdb"

    def __init__(self, url: StoreURL, read_only: bool = False, config: dict[str, Any] | None = None) -> None:
        super().__init__(url)
        self.path = Path(url.target)
        self._buffer: dict[str, list[Any]] = {c: [] for c in RECORD_TABLE_COLUMNS}
        if read_only and not self.path.exists():
            raise UsageError(
                f"{self.path}: no database yet", fix="index the bundles first: infercost db sync"
            )
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only, config=config or {})
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                raise EnvironmentNotReady(
                    f"{self.path}: another process is writing this database",
                    fix="wait for it (infercost db sync or push) to finish, then try again",
                ) from None
            raise UsageError(
                f"{self.path}: not a DuckDB database ({text.splitlines()[0][:160]})",
                fix="give another path, or delete it: it is rebuilt from the bundles by infercost db sync",
            ) from None
        except duckdb.Error as exc:
            raise UsageError(f"{self.path}: cannot open ({str(exc).splitlines()[0][:160]})") from None

    def _execute(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult | None:
        cur = self.con.execute(sql, list(params) if params is not None else None)
        if cur.description is None:
            return None
        return QueryResult([d[0] for d in cur.description], cur.fetchall())

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.con.begin()
        try:
            yield
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.con.rollback()
            for v in self._buffer.values():
                v.clear()
            raise
        self.con.commit()

    def _insert_records(self, columns: dict[str, list[Any]]) -> None:
        for c in RECORD_TABLE_COLUMNS:
            self._buffer[c].extend(columns[c])
        if len(self._buffer["seq"]) >= FLUSH_ROWS:
            self._flush_records()

    def _flush_records(self) -> None:
        if not self._buffer["seq"]:
            return
        # object columns keep None as NULL (a float column would too: DuckDB reads pandas NaN as NULL)
        import pandas as pd  # only when indexing: it costs ~0.3 s of start-up

        frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in self._buffer.items()})
        self.con.register("_infercost_batch", frame)
        try:
            cols = ", ".join(RECORD_TABLE_COLUMNS)
            self.con.execute(f"INSERT INTO records ({cols}) SELECT {cols} FROM _infercost_batch")
        finally:
            self.con.unregister("_infercost_batch")
        for v in self._buffer.values():
            v.clear()

    def _replace_older(self, run_id: str) -> None:
        for table in ("records", "power_summaries", "runs"):
            self.con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.con.close()

    def user_query(self, sql: str, limits: QueryLimits) -> QueryResult:
        """One statement on a connection opened by ``open_for_query`` (see ``QueryLimits``): interrupted
        from a timer thread at the deadline, at most ``max_rows`` rows fetched."""
        check_user_sql(sql)
        self.con.execute("SET enable_progress_bar = false")  # a local option: not settable at connect
        self.con.execute("SET lock_configuration = true")
        try:
            statements = self.con.extract_statements(sql)
        except duckdb.Error as exc:
            raise UsageError(f"query failed: {_first_line(exc)}") from None
        if len(statements) != 1:
            raise UsageError(f"db query: {len(statements)} statements", fix=ONE_STATEMENT_FIX)
        timer = threading.Timer(limits.timeout_s, self.con.interrupt)
        timer.start()
        try:
            cur = self.con.execute(sql)
            if cur.description is None:
                return QueryResult([], [])
            rows = cur.fetchmany(limits.max_rows + 1)
        except duckdb.InterruptException:
            raise query_timed_out(limits) from None
        except duckdb.PermissionException as exc:
            raise UsageError(
                f"query refused: {_first_line(exc)}",
                fix="db query reads only the database; --allow-files lets it read and write files",
            ) from None
        except duckdb.OutOfMemoryException:
            raise UsageError(
                f"query needs more than its {limits.memory_mb} MB memory limit",
                fix="aggregate in the query (GROUP BY) or narrow it (WHERE, LIMIT)",
            ) from None
        except duckdb.Error as exc:
            raise UsageError(f"query failed: {_first_line(exc)}") from None
        finally:
            timer.cancel()
        columns = [d[0] for d in cur.description]
        return QueryResult(columns, rows[: limits.max_rows], truncated=len(rows) > limits.max_rows)

    # ------------------------------------------------------------------ sync
    def sync(self, root: Path, skip_bad: bool = False, derive: Derive | None = None) -> SyncResult:
        """Make the index equal to the bundles under ``root``; one transaction (a bad bundle → nothing
        written, unless ``skip_bad``, which leaves it out and says so). ``derive``: as ``Store.write``.

        Only new or changed bundles are read (their manifest, then their records); the run id of an
        unchanged one is remembered from the last sync. Two bundle directories holding the same run id
        are one run: the one with the larger records file is kept (ties: the first path), and the
        result says which (``duplicates``). A run whose bundles are all gone leaves the index; a run
        whose kept copy changed or moved is indexed again from the copy on disk."""
        self.ensure_schema()
        self.con.execute(_SOURCES)
        result = SyncResult()
        found = {str(p): _fingerprint(p) for p in find_bundle_dirs(root)}
        known = {
            row[0]: (row[1], row[2])
            for row in self.con.execute("SELECT path, fingerprint, run_id FROM sync_sources").fetchall()
        }
        under = str(root.resolve())
        run_of = self._run_ids(found, known, result, skip_bad)
        chosen = _one_per_run(run_of, found, result)
        indexed = {
            str(r[0]): str(r[1] or "") for r in self.con.execute("SELECT run_id, source FROM runs").fetchall()
        }
        todo = [p for r, p in chosen.items() if indexed.get(r) != p or known.get(p, ("", ""))[0] != found[p]]
        result.unchanged = len(chosen) - len(todo)
        with self._transaction():
            for run_id, source in indexed.items():
                if run_id not in chosen and _inside(source, under):
                    self._replace_older(run_id)
                    result.removed.append(run_id)
            for p in [p for p in known if p not in found and _inside(p, under)]:
                self.con.execute("DELETE FROM sync_sources WHERE path = ?", [p])
            # a bundle whose files changed (or that an older version indexed: migration 5 forgets the
            # fingerprints) is stored again, with its figures derived by this version
            result.push = self.write(
                todo, bad=result.bad if skip_bad else None, derive=derive, replace=derive is not None
            )
            for p in todo:  # an identical copy elsewhere was skipped by content: it now lives here
                self.con.execute("UPDATE runs SET source = ? WHERE run_id = ?", [p, run_of[p]])
            for p, run_id in run_of.items():
                if any(p in b for b in result.bad):
                    continue  # left out: tried again next sync
                self.con.execute(
                    "INSERT OR REPLACE INTO sync_sources (path, fingerprint, run_id) VALUES (?, ?, ?)",
                    [p, found[p], run_id],
                )
        return result

    def _run_ids(
        self, found: dict[str, str], known: dict[str, tuple[str, str]], result: SyncResult, skip_bad: bool
    ) -> dict[str, str]:
        """The run id each bundle on disk holds (a changed or new bundle's from its manifest)."""
        run_of: dict[str, str] = {}
        for p, fp in found.items():
            fp_known, run_known = known.get(p, ("", ""))
            if fp_known == fp and run_known:
                run_of[p] = run_known
                continue
            try:
                run_of[p] = read_manifest(Path(p))[1].run_id
            except BundleError as exc:
                if not skip_bad:
                    raise
                result.bad.append(str(exc))
        return run_of


@dataclass
class SyncResult:
    push: PushResult = field(default_factory=PushResult)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # "run R ...: kept A, left out B" per shared id


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _records_bytes(fingerprint: str) -> int:
    size = fingerprint.split("|")[-1].split(":")[0]
    return int(size) if size.isdigit() else 0


def _one_per_run(run_of: dict[str, str], found: dict[str, str], result: SyncResult) -> dict[str, str]:
    """run id → the one bundle directory indexed for it (see ``EmbeddedStore.sync``)."""
    by_run: dict[str, list[str]] = {}
    for p in sorted(run_of):
        by_run.setdefault(run_of[p], []).append(p)
    chosen: dict[str, str] = {}
    for run_id, paths in by_run.items():
        keep = max(paths, key=lambda p: (_records_bytes(found[p]), -paths.index(p)))
        chosen[run_id] = keep
        if len(paths) > 1:
            others = ", ".join(p for p in paths if p != keep)
            result.duplicates.append(
                f"run {run_id} is in {len(paths)} bundles: kept {keep} (most records), left out {others}"
            )
    return chosen


def _fingerprint(path: Path) -> str:
    parts = []
    for name in (MANIFEST, RECORDS):
        try:
            st = (path / name).stat()
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        except FileNotFoundError:
            parts.append("-")
    return "|".join(parts)


def find_bundle_dirs(root: Path) -> list[Path]:
    """Every bundle directory under ``root`` (absolute), skipping hidden ones (``.RUN.partial``: a run
    still being created)."""
    if not root.is_dir():
        return []
    out = []
    for m in sorted(root.resolve().rglob(MANIFEST)):
        rel = m.parent.relative_to(root.resolve())
        if any(part.startswith(".") for part in rel.parts):
            continue
        out.append(m.parent)
    return out


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:240]


def query_config(limits: QueryLimits) -> dict[str, Any]:
    """DuckDB settings for a user's query (``QueryLimits``); ``user_query`` locks them before the query
    runs, so it cannot ``SET`` them back."""
    return {
        "enable_external_access": limits.allow_files,
        "memory_limit": f"{limits.memory_mb}MB",
        "threads": limits.threads,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }


def open_embedded(
    url: StoreURL, read_only: bool = False, config: dict[str, Any] | None = None
) -> EmbeddedStore:
    store = EmbeddedStore(url, read_only=read_only, config=config)
    try:
        if read_only:
            store.check_version(store.version())
        else:
            store.ensure_schema()
    except BaseException:
        store.close()
        raise
    return store
