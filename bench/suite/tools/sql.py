"""sqlite_query: SELECT-only queries over the workspace's bundled database, bounded in rows, size and time.

Guards, each enough alone for what it covers: the file is opened read-only through a ``file:...?mode=ro``
URI; an authorizer denies every action but reading (``SQLITE_SELECT``, ``SQLITE_READ``,
``SQLITE_FUNCTION``, recursive CTEs), so no ``ATTACH``, ``PRAGMA`` or write; a progress handler aborts a
query after its time budget (a cross join cannot run on); ``SQLITE_LIMIT_LENGTH`` caps any one string or
blob (``SELECT zeroblob(250000000)`` is an error, not 250 MB) and ``PRAGMA hard_heap_limit`` SQLite's
whole heap, with temporary tables kept in memory (under that cap) instead of spilling to files. Only 50
rows are fetched, each value shown up to ``_MAX_CELL_CHARS``.

Python 3.10 has no ``Connection.setlimit``: there the heap limit and the tool worker's memory cap
(``worker.py``) bound what one value can take.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bench.suite.tools.workspace import ToolFailure

__all__ = ["MAX_VALUE_BYTES", "sqlite_query"]

_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}
_MAX_ROWS = 50
_MAX_CELL_CHARS = 1000
MAX_VALUE_BYTES = 1_000_000  # SQLITE_LIMIT_LENGTH: the largest string or blob a query may build
_MAX_SQL_BYTES = 100_000
_HEAP_LIMIT_BYTES = 64 * 2**20
_TIME_BUDGET_S = 2.0


def _authorize(action: int, *_args: object) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def _bound(conn: sqlite3.Connection) -> None:
    """Size limits, set before the authorizer (which would deny the pragmas)."""
    if hasattr(conn, "setlimit"):  # Python 3.11+
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, _MAX_SQL_BYTES)
    conn.execute(f"PRAGMA hard_heap_limit = {_HEAP_LIMIT_BYTES}")
    conn.execute("PRAGMA temp_store = MEMORY")


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"<blob, {len(value)} bytes>"
    text = str(value)
    return text if len(text) <= _MAX_CELL_CHARS else text[:_MAX_CELL_CHARS] + f" [... {len(text)} chars]"


def sqlite_query(database: Path, query: str, time_budget_s: float = _TIME_BUDGET_S) -> str:
    if not database.is_file():
        raise ToolFailure("this task has no database")
    uri = f"{database.resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=1.0, check_same_thread=False)
    deadline = time.monotonic() + time_budget_s
    try:
        _bound(conn)
        conn.set_authorizer(_authorize)
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cur = conn.execute(query)
            rows = cur.fetchmany(_MAX_ROWS + 1)
        except sqlite3.Warning as exc:  # e.g. two statements in one call
            raise ToolFailure(f"sqlite: {exc}") from None
        except (sqlite3.DatabaseError, MemoryError) as exc:
            msg = "query took too long (interrupted)" if time.monotonic() > deadline else str(exc)
            raise ToolFailure(f"sqlite: {msg or type(exc).__name__}") from None
        names = [d[0] for d in cur.description or ()]
    finally:
        conn.close()
    lines = ["\t".join(names)] if names else []
    lines += ["\t".join(_cell(v) for v in row) for row in rows[:_MAX_ROWS]]
    if len(rows) > _MAX_ROWS:
        lines.append(f"[only the first {_MAX_ROWS} rows]")
    return "\n".join(lines) or "(no rows)"
