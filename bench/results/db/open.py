"""Open the store a command names: ``--store``/``INFERCOST_STORE``, else the embedded default file."""

from __future__ import annotations

from pathlib import Path

from bench.results.db.store import QueryLimits, Store
from bench.results.db.url import DEFAULT_DB, StoreURL, parse_store_url, store_from_env

__all__ = ["open_for_query", "open_store", "resolve_store"]


def resolve_store(flag: str | None, default_db: Path = DEFAULT_DB) -> StoreURL:
    return store_from_env(flag) or parse_store_url(f"duckdb:{default_db}")


def open_store(url: StoreURL, read_only: bool = False) -> Store:
    if url.engine == "postgres":
        from bench.results.db.postgres import open_postgres

        return open_postgres(url, create=not read_only)
    from bench.results.db.embedded import open_embedded

    return open_embedded(url, read_only=read_only)


def open_for_query(url: StoreURL, limits: QueryLimits) -> Store:
    """The store as ``infercost db query`` opens it: read-only, its user query bounded by ``limits``."""
    if url.engine == "postgres":
        from bench.results.db.postgres import open_postgres

        return open_postgres(url, create=False)
    from bench.results.db.embedded import open_embedded, query_config

    return open_embedded(url, read_only=True, config=query_config(limits))
