"""The relational schema of a results database, versioned, with its migrations.

``DB_SCHEMA_VERSION`` counts migrations; ``schema_meta`` stores the version a database is at. Opening a
database applies the migrations it lacks (in one transaction, under a lock on PostgreSQL, so eight
machines pushing to a fresh store create the tables once); a database at a *newer* version is refused
with what to do, never written.

When the bundle schema (``bench/results/schema.py``) gains a field or changes a meaning, add a migration
here (``ALTER TABLE records ADD COLUMN ...``) and the column to ``RECORD_COLUMNS``: a test checks that
every ``Record`` field has a column, so a new field cannot be dropped silently on the way into a database.

The SQL is the dialect both DuckDB and PostgreSQL accept (TEXT, BIGINT, DOUBLE PRECISION, BOOLEAN,
window functions); a statement meant for one engine only is tagged with it.

Rows are only ever inserted: a run is identified by ``(run_id, content_sha256)``, a bundle that changed
(resumed, re-enriched) is stored as a new version beside the old, and readers see the newest version of
each run through the ``current_runs`` and ``current_records`` views. This lets the shared store's pushing
role hold INSERT and SELECT only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DB_SCHEMA_VERSION",
    "JSON_COLUMNS",
    "MIGRATIONS",
    "RECORD_COLUMNS",
    "SYNC_SOURCES_TABLE",
    "TABLES",
    "Migration",
    "Statement",
]

Engine = Literal["duckdb", "postgres"]

# Record fields as columns: (name, SQL type). Lists and dicts are JSON text; the bundle's own run_id is the
# key column, so a record's ``run_id`` is not repeated.
_RECORDS_V1_COLUMNS: tuple[tuple[str, str], ...] = (
    ("task_id", "TEXT"),
    ("category", "TEXT"),
    ("repetition", "INTEGER"),
    ("warmup", "BOOLEAN"),
    ("status", "TEXT"),
    ("error", "TEXT"),
    ("started_utc", "TEXT"),
    ("start_ns", "BIGINT"),
    ("end_ns", "BIGINT"),
    ("ttft_ms", "DOUBLE PRECISION"),
    ("e2e_ms", "DOUBLE PRECISION"),
    ("itl_ms", "TEXT"),
    ("tpot_ms", "DOUBLE PRECISION"),
    ("decode_tps", "DOUBLE PRECISION"),
    ("prefill_tps", "DOUBLE PRECISION"),
    ("prefill_source", "TEXT"),
    ("prompt_tokens", "BIGINT"),
    ("completion_tokens", "BIGINT"),
    ("reasoning_tokens", "BIGINT"),
    ("token_count_source", "TEXT"),
    ("finish_reason", "TEXT"),
    ("passed", "BOOLEAN"),
    ("check_detail", "TEXT"),
    ("output_text", "TEXT"),
    ("output_sha256", "TEXT"),
    ("prompt_sha256", "TEXT"),
    ("peak_rss_mb", "DOUBLE PRECISION"),
    ("engine_timings", "TEXT"),
    ("shape", "TEXT"),
    ("cached_tokens", "BIGINT"),
    ("energy_j", "DOUBLE PRECISION"),
    ("energy_net_j", "DOUBLE PRECISION"),
    ("energy_source", "TEXT"),
    ("avg_power_w", "DOUBLE PRECISION"),
    ("cost_usd", "DOUBLE PRECISION"),
    ("cost_energy_usd", "DOUBLE PRECISION"),
    ("cost_hardware_usd", "DOUBLE PRECISION"),
    ("cost_api_usd", "DOUBLE PRECISION"),
    ("cost_source", "TEXT"),
    ("n_chunks", "BIGINT"),
    ("chunk_tokens", "TEXT"),
    ("http_status", "INTEGER"),
    ("server_model", "TEXT"),
    ("stream_end_ms", "DOUBLE PRECISION"),
    ("retries", "TEXT"),
    ("retry_delay_ms", "DOUBLE PRECISION"),
    ("scheduled_ns", "BIGINT"),
    # billing tiers (docs/prices.md)
    ("cache_write_tokens", "BIGINT"),
    ("cache_write_1h_tokens", "BIGINT"),
    ("cost_tier", "TEXT"),
    # agent tasks (docs/agents.md): per model/tool call and the task's summary record
    ("kind", "TEXT"),
    ("step", "INTEGER"),
    ("tool_name", "TEXT"),
    ("tool_error", "BOOLEAN"),
    ("tool_cpu_s", "DOUBLE PRECISION"),
    ("tool_peak_rss_mb", "DOUBLE PRECISION"),
    ("tool_output_bytes", "BIGINT"),
    ("steps", "INTEGER"),
    ("model_calls", "INTEGER"),
    ("tool_calls", "INTEGER"),
    ("tool_errors", "INTEGER"),
    ("stop_reason", "TEXT"),
    ("wall_s", "DOUBLE PRECISION"),
    ("model_s", "DOUBLE PRECISION"),
    ("tool_s", "DOUBLE PRECISION"),
    ("harness_s", "DOUBLE PRECISION"),
    ("input_fresh_tokens", "BIGINT"),
    ("prefix_hit_ratio", "DOUBLE PRECISION"),
)
# added by migration 2: shapes at a depth and in parallel (docs/shapes.md)
_SHAPE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("depth_tokens", "BIGINT"),
    ("depth_ms", "DOUBLE PRECISION"),
    ("parallel_seqs", "INTEGER"),
    ("shared_prompt", "BOOLEAN"),
    ("n_kv_tokens", "BIGINT"),
    ("pp_ms", "DOUBLE PRECISION"),
    ("tg_ms", "DOUBLE PRECISION"),
)
# added by migration 3: the time to the first hidden-reasoning token, beside TTFT (docs/http.md)
_THINKING_COLUMNS: tuple[tuple[str, str], ...] = (("ttft_thinking_ms", "DOUBLE PRECISION"),)
# added by migration 4, public benchmarks: a multi-turn task's user turn, and a reply's tool calls (JSON)
_BENCHMARK_COLUMNS: tuple[tuple[str, str], ...] = (("turn", "INTEGER"), ("calls", "TEXT"))
RECORD_COLUMNS: tuple[tuple[str, str], ...] = (
    _RECORDS_V1_COLUMNS + _SHAPE_COLUMNS + _THINKING_COLUMNS + _BENCHMARK_COLUMNS
)
JSON_COLUMNS = frozenset({"itl_ms", "engine_timings", "chunk_tokens", "retries", "calls"})

# the embedded index's memory of which bundle directory it stored, and the files' fingerprint then
SYNC_SOURCES_TABLE = (
    "CREATE TABLE IF NOT EXISTS sync_sources (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
    "run_id TEXT NOT NULL)"
)

TABLES = ("schema_meta", "devices", "models", "suites", "runs", "records", "power_summaries")


@dataclass(frozen=True)
class Statement:
    sql: str
    engines: tuple[Engine, ...] = ("duckdb", "postgres")


@dataclass(frozen=True)
class Migration:
    version: int
    why: str
    statements: tuple[Statement, ...]


_RECORDS_V1 = ",\n    ".join(f"{name} {sql_type}" for name, sql_type in _RECORDS_V1_COLUMNS)
# a view over ``rec.*`` is expanded when it is created (PostgreSQL): recreated whenever records gain columns
_CURRENT_RECORDS_VIEW = """CREATE VIEW current_records AS
SELECT c.started_utc AS run_started_utc, c.device_name, c.model_name, c.suite_name, c.backend, rec.*
FROM records rec JOIN current_runs c
ON rec.run_id = c.run_id AND rec.content_sha256 = c.content_sha256"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "first version: bundle schema 1",
        (
            Statement("CREATE TABLE schema_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"),
            Statement(
                "CREATE TABLE devices (device_id TEXT PRIMARY KEY, name TEXT, kind TEXT, backend TEXT, "
                "power_mode TEXT, profile_json TEXT)"
            ),
            Statement(
                "CREATE TABLE models (model_id TEXT PRIMARY KEY, name TEXT, sha256 TEXT, file_name TEXT, "
                "info_json TEXT)"
            ),
            Statement("CREATE TABLE suites (suite_hash TEXT PRIMARY KEY, name TEXT, n_tasks INTEGER)"),
            Statement(
                """CREATE TABLE runs (
    run_id TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    bundle_schema_version INTEGER NOT NULL,
    tool_version TEXT,
    tool_commit TEXT,
    started_utc TEXT NOT NULL,
    finished_utc TEXT,
    complete BOOLEAN NOT NULL,
    interrupted BOOLEAN NOT NULL,
    device_id TEXT,
    device_name TEXT,
    model_id TEXT,
    model_name TEXT,
    suite_hash TEXT,
    suite_name TEXT,
    backend TEXT,
    host_cpu TEXT,
    n_records BIGINT NOT NULL,
    manifest_json TEXT NOT NULL,
    stored_utc TEXT NOT NULL,
    source TEXT,
    PRIMARY KEY (run_id, content_sha256)
)"""
            ),
            Statement(
                "CREATE TABLE records (\n    run_id TEXT NOT NULL,\n    content_sha256 TEXT NOT NULL,\n"
                f"    seq BIGINT NOT NULL,\n    {_RECORDS_V1}\n)"
            ),
            Statement("CREATE INDEX records_run ON records (run_id, content_sha256)", ("postgres",)),
            Statement(
                """CREATE TABLE power_summaries (
    run_id TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    sensor TEXT,
    rate_hz DOUBLE PRECISION,
    idle_w DOUBLE PRECISION,
    n_requests BIGINT,
    n_with_energy BIGINT,
    energy_j DOUBLE PRECISION,
    energy_net_j DOUBLE PRECISION,
    energy_sources TEXT,
    mean_power_w DOUBLE PRECISION,
    PRIMARY KEY (run_id, content_sha256)
)"""
            ),
            Statement(
                """CREATE VIEW current_runs AS
SELECT * FROM runs r
WHERE NOT EXISTS (
    SELECT 1 FROM runs n WHERE n.run_id = r.run_id
    AND (n.stored_utc > r.stored_utc OR (n.stored_utc = r.stored_utc AND n.content_sha256 > r.content_sha256))
)"""
            ),
            Statement(_CURRENT_RECORDS_VIEW),
        ),
    ),
    Migration(
        2,
        "records of shapes at a depth and in parallel (bundle schema 1, new optional fields)",
        (
            Statement("DROP VIEW current_records"),
            *(
                Statement(f"ALTER TABLE records ADD COLUMN {name} {sql_type}")
                for name, sql_type in _SHAPE_COLUMNS
            ),
            Statement(_CURRENT_RECORDS_VIEW),
        ),
    ),
    Migration(
        3,
        "time to the first thinking token (bundle schema 1, a new optional field)",
        (
            Statement("DROP VIEW current_records"),
            *(
                Statement(f"ALTER TABLE records ADD COLUMN {name} {sql_type}")
                for name, sql_type in _THINKING_COLUMNS
            ),
            Statement(_CURRENT_RECORDS_VIEW),
        ),
    ),
    Migration(
        4,
        "records of public benchmarks: turn, calls (bundle schema 1, new optional fields)",
        (
            Statement("DROP VIEW current_records"),
            *(
                Statement(f"ALTER TABLE records ADD COLUMN {name} {sql_type}")
                for name, sql_type in _BENCHMARK_COLUMNS
            ),
            Statement(_CURRENT_RECORDS_VIEW),
        ),
    ),
    Migration(
        5,
        "records carry their derived energy and cost (the metric core's figures): the embedded index "
        "forgets its fingerprints, so the next sync stores every bundle again with them",
        (Statement(SYNC_SOURCES_TABLE, ("duckdb",)), Statement("DELETE FROM sync_sources", ("duckdb",))),
    ),
)

DB_SCHEMA_VERSION = MIGRATIONS[-1].version
