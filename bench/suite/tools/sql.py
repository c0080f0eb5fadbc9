"""sqlite_query: SELECT-only queries over the workspace's bundled database, bounded in rows and time.

Three guards, each enough alone: the file is opened read-only through a ``file:...?mode=ro`` URI, an
authorizer denies every action but reading (``SQLITE_SELECT``, ``SQLITE_READ``, ``SQLITE_FUNCTION``),
and a progress handler aborts a query after its time budget (a cross join cannot hang the harness).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bench.suite.tools.workspace import ToolFailure

__all__ = ["sqlite_query"]

_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}
_MAX_ROWS = 50
_TIME_BUDGET_S = 2.0


def _authorize(action: int, *_args: object) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def sqlite_query(database: Path, query: str) -> str:
    if not database.is_file():
        raise ToolFailure("this task has no database")
    uri = f"{database.resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=1.0, check_same_thread=False)
    deadline = time.monotonic() + _TIME_BUDGET_S
    try:
        conn.set_authorizer(_authorize)
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cur = conn.execute(query)
            rows = cur.fetchmany(_MAX_ROWS + 1)
        except sqlite3.Warning as exc:  # e.g. two statements in one call
            raise ToolFailure(f"sqlite: {exc}") from None
        except sqlite3.DatabaseError as exc:
            msg = "query took too long (interrupted)" if time.monotonic() > deadline else str(exc)
            raise ToolFailure(f"sqlite: {msg}") from None
        names = [d[0] for d in cur.description or ()]
    finally:
        conn.close()
    lines = ["\t".join(names)] if names else []
    lines += ["\t".join("NULL" if v is None else str(v) for v in row) for row in rows[:_MAX_ROWS]]
    if len(rows) > _MAX_ROWS:
        lines.append(f"[only the first {_MAX_ROWS} rows]")
    return "\n".join(lines) or "(no rows)"
