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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from bench.errors import EnvironmentNotReady, UsageError
from bench.results.bundle import MANIFEST, RECORDS
from bench.results.db.schema import SYNC_SOURCES_TABLE
from bench.results.db.store import RECORD_TABLE_COLUMNS, Derive, PushResult, QueryResult, Store
from bench.results.db.url import StoreURL

__all__ = ["EmbeddedStore", "SyncResult", "find_bundle_dirs", "open_embedded"]

FLUSH_ROWS = 200_000  # records buffered before one bulk insert (one frame scan beats many small ones)
_SOURCES = SYNC_SOURCES_TABLE


class EmbeddedStore(Store):
    engine = "duckdb"

    def __init__(self, url: StoreURL, read_only: bool = False) -> None:
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
            self.con = duckdb.connect(str(self.path), read_only=read_only)
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

    # ------------------------------------------------------------------ sync
    def sync(self, root: Path, skip_bad: bool = False, derive: Derive | None = None) -> SyncResult:
        """Index every bundle under ``root``; one transaction (a bad bundle → nothing written, unless
        ``skip_bad``, which leaves it out and says so). ``derive``: as ``Store.write``."""
        self.ensure_schema()
        self.con.execute(_SOURCES)
        result = SyncResult()
        found = {str(p): _fingerprint(p) for p in find_bundle_dirs(root)}
        known = {
            row[0]: (row[1], row[2])
            for row in self.con.execute("SELECT path, fingerprint, run_id FROM sync_sources").fetchall()
        }
        under = str(root.resolve())
        gone = [p for p in known if p not in found and (p == under or p.startswith(under + "/"))]
        todo = [p for p, fp in found.items() if known.get(p, ("", ""))[0] != fp]
        result.unchanged = len(found) - len(todo)
        with self._transaction():
            for p in gone:
                self._replace_older(known[p][1])
                self.con.execute("DELETE FROM sync_sources WHERE path = ?", [p])
                result.removed.append(known[p][1])
            # a bundle whose files changed (or that an older version indexed: migration 5 forgets the
            # fingerprints) is stored again, with its figures derived by this version
            result.push = self.write(
                todo, bad=result.bad if skip_bad else None, derive=derive, replace=derive is not None
            )
            for p in todo:
                run = self.con.execute(
                    "SELECT run_id FROM runs WHERE source = ? ORDER BY stored_utc DESC LIMIT 1", [p]
                ).fetchone()
                if run is None and any(p in b for b in result.bad):
                    continue  # left out: tried again next sync
                self.con.execute(
                    "INSERT OR REPLACE INTO sync_sources (path, fingerprint, run_id) VALUES (?, ?, ?)",
                    [p, found[p], run[0] if run else ""],
                )
        return result


@dataclass
class SyncResult:
    push: PushResult = field(default_factory=PushResult)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


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


def open_embedded(url: StoreURL, read_only: bool = False) -> EmbeddedStore:
    store = EmbeddedStore(url, read_only=read_only)
    try:
        if read_only:
            store.check_version(store.version())
        else:
            store.ensure_schema()
    except BaseException:
        store.close()
        raise
    return store
