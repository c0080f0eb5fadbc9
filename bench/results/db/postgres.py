"""The shared store: a PostgreSQL server that every machine of a fleet pushes its bundles to.

Records go in by ``COPY`` (psycopg 3): an order of magnitude faster than row inserts. The pushing role
needs only INSERT and SELECT (rows are never updated or deleted, see ``schema.py``); creating the tables
needs an owner once: ``infercost db migrate --store URL --grant ROLE``.

Every error that leaves here is one line without the password: connection refused → exit 4 with how to
reach the server, wrong credentials → exit 4, a role that lacks a privilege → exit 4 naming the
statement's table and the grant that fixes it. A push that fails for any reason rolls back: the local
bundles are untouched and nothing of them is visible in the store.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from bench.errors import EnvironmentNotReady, UsageError
from bench.results.db.store import (
    ONE_STATEMENT_FIX,
    RECORD_TABLE_COLUMNS,
    QueryLimits,
    QueryResult,
    Store,
    check_user_sql,
    query_timed_out,
)
from bench.results.db.url import StoreURL

__all__ = ["PostgresStore", "open_postgres"]

CONNECT_TIMEOUT_S = 10


def _key(text: str) -> int:
    """A stable signed 64-bit advisory-lock key for a run id."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:240]


class PostgresStore(Store):
    engine = "postgres"

    def __init__(self, url: StoreURL) -> None:
        super().__init__(url)
        self._scrub = url.scrubber()
        try:
            self.con = psycopg.connect(
                url.target, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="infercost"
            )
        except psycopg.OperationalError as exc:
            raise self._connect_error(exc) from None
        except psycopg.ProgrammingError as exc:  # a URL libpq cannot parse
            raise UsageError(f"--store {self.display}: {self._text(exc)}") from None

    def _text(self, exc: BaseException) -> str:
        return self._scrub.scrub(_first_line(exc))

    def _connect_error(self, exc: BaseException) -> EnvironmentNotReady:
        text = self._scrub.scrub(" ".join(str(exc).split()))[:300]
        low = text.lower()
        if "password authentication failed" in low or "no password supplied" in low:
            return EnvironmentNotReady(
                f"{self.display}: the server refused these credentials ({text})",
                fix="check the user and password (in the URL, INFERCOST_STORE or PGPASSWORD)",
            )
        if "does not exist" in low:
            return EnvironmentNotReady(
                f"{self.display}: {text}",
                fix="create the database and role (see docs/database.md), or fix the URL",
            )
        return EnvironmentNotReady(
            f"{self.display}: cannot reach the store ({text}); local bundles are untouched",
            fix="start the server or fix host/port in the URL, then push again",
        )

    def _execute(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult | None:
        try:
            cur = self.con.execute(sql.replace("?", "%s") if params is not None else sql, params)
        except pg_errors.InsufficientPrivilege as exc:
            raise EnvironmentNotReady(
                f"{self.display}: this role lacks a privilege ({self._text(exc)}); nothing was written",
                fix="as the database owner run: infercost db migrate --store URL --grant ROLE",
            ) from None
        except psycopg.OperationalError as exc:
            raise self._connect_error(exc) from None
        if cur.description is None:
            return None
        return QueryResult([d.name for d in cur.description], list(cur.fetchall()))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            with self.con.transaction():
                yield
        except psycopg.OperationalError as exc:
            raise self._connect_error(exc) from None

    def _lock(self, keys: Iterable[str]) -> None:
        for k in keys:
            self.con.execute("SELECT pg_advisory_xact_lock(%s)", [_key(k)])

    def _insert_records(self, columns: dict[str, list[Any]]) -> None:
        cols = [columns[c] for c in RECORD_TABLE_COLUMNS]
        with (
            self.con.cursor() as cur,
            cur.copy(f"COPY records ({', '.join(RECORD_TABLE_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in zip(*cols, strict=True):
                copy.write_row(row)

    def user_query(self, sql: str, limits: QueryLimits) -> QueryResult:
        """A user's SQL (``infercost db query``): one SELECT, declared as a server-side cursor (which
        admits exactly one SELECT or VALUES statement) in a READ ONLY transaction with a statement
        timeout; at most ``max_rows`` rows cross the network. What it may read is what the role may."""
        check_user_sql(sql)
        with self._transaction():
            self.con.execute("SET TRANSACTION READ ONLY")
            self.con.execute(f"SET LOCAL statement_timeout = {int(limits.timeout_s * 1000)}")
            try:
                with self.con.cursor(name="infercost_user_query") as cur:
                    cur.execute(sql.strip().rstrip(";"))
                    rows = cur.fetchmany(limits.max_rows + 1)
                    columns = [d.name for d in cur.description or ()]
            except pg_errors.QueryCanceled:
                raise query_timed_out(limits) from None
            except pg_errors.SyntaxError as exc:
                fix = ONE_STATEMENT_FIX if ";" in sql.strip().rstrip(";") else None
                raise UsageError(f"query failed: {self._text(exc)}", fix=fix) from None
            except psycopg.Error as exc:
                raise UsageError(f"query failed: {self._text(exc)}") from None
        return QueryResult(columns, list(rows[: limits.max_rows]), truncated=len(rows) > limits.max_rows)

    def grant(self, role: str) -> None:
        """Let ``role`` push and read: SELECT and INSERT on every infercost table, nothing else."""
        ident = psycopg.sql.Identifier(role)
        tables = ["schema_meta", "devices", "models", "suites", "runs", "records", "power_summaries"]
        with self._transaction():
            for t in tables:
                self.con.execute(
                    psycopg.sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(
                        psycopg.sql.Identifier(t), ident
                    )
                )
            for v in ("current_runs", "current_records"):
                self.con.execute(
                    psycopg.sql.SQL("GRANT SELECT ON {} TO {}").format(psycopg.sql.Identifier(v), ident)
                )

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.con.close()


def open_postgres(url: StoreURL, create: bool = True) -> PostgresStore:
    """Connect and check the schema: migrate when it is missing or older (``create``), refuse a newer one."""
    store = PostgresStore(url)
    try:
        version = store.version()
        store.check_version(version)
        if create and version is None:
            try:
                store.migrate()
            except EnvironmentNotReady:
                raise EnvironmentNotReady(
                    f"{store.display}: the store has no infercost tables and this role cannot create them",
                    fix="as the database owner run: infercost db migrate --store URL --grant ROLE",
                ) from None
        elif create and version is not None and version < store_version():
            store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def store_version() -> int:
    from bench.results.db.schema import DB_SCHEMA_VERSION

    return DB_SCHEMA_VERSION
