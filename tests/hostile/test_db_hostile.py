"""The results database under hostile input: ``db query`` reads only the database and is bounded in
time and rows; ``db sync`` refuses what it cannot read (a FIFO, a link to /dev/zero), keeps one run per
run id and says which, and after a removal leaves the index equal to the bundles on disk."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from bench.results.bundle import read_bundle
from bench.results.db.embedded import open_embedded
from bench.results.db.url import parse_store_url
from tests.helpers import run_cli
from tests.helpers.db import make_bundle
from tests.helpers.pg_server import ADMIN_PASSWORD, PgCluster, pg_cluster

__all__ = ["pg_cluster"]  # the session fixture, used by name below


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("dbq")
    make_bundle(tmp / "runs", "r1")
    url = f"duckdb:{tmp / 'q.duckdb'}"
    assert run_cli("db", "sync", "--runs-root", str(tmp / "runs"), "--store", url).returncode == 0
    return url


# ---------------------------------------------------------------------------------------- query
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/proc/self/environ')",
        "SELECT * FROM read_json('/etc/hostname')",
        "INSTALL httpfs",
        "ATTACH '/tmp/other.duckdb' AS o",
        "SET memory_limit = '100GB'",
        "SET threads = 64",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "DELETE FROM runs",
        "CREATE TABLE x (a INT)",
    ],
)
def test_query_reads_nothing_but_the_database(db: str, sql: str) -> None:
    proc = run_cli("db", "query", sql, "--store", db)
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "root:" not in proc.stdout and "PATH=" not in proc.stdout


def test_copy_to_a_file_overwrites_nothing(db: str, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    proc = run_cli("db", "query", f"COPY (SELECT * FROM runs) TO '{target}'", "--store", db)
    assert proc.returncode == 2 and target.read_text() == "keep me\n"


def test_allow_files_is_the_explicit_way_to_read_files(db: str, tmp_path: Path) -> None:
    csv = tmp_path / "extra.csv"
    csv.write_text("a,b\n1,2\n")
    proc = run_cli("db", "query", f"SELECT a + b AS s FROM read_csv('{csv}')", "--store", db, "--allow-files",
                   "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"s": 3' in proc.stdout


def test_rows_and_time_are_bounded(db: str) -> None:
    proc = run_cli("db", "query", "SELECT range AS i FROM range(5000000)", "--store", db, "--max-rows", "100")
    assert proc.returncode == 0, proc.stderr
    assert "100 row(s); more rows exist" in proc.stdout
    t0 = time.monotonic()
    proc = run_cli(
        "db", "query", "SELECT count(*) FROM range(1000000000000)", "--store", db, "--timeout", "1"
    )
    assert proc.returncode == 2 and "stopped at its 1 s limit" in proc.stderr, proc.stderr
    assert time.monotonic() - t0 < 30


@pytest.mark.parametrize(
    "sql,words",
    [("", "the query is empty"), ("  ;  ", "the query is empty"), ("SELECT 1; SELECT 2", "2 statements")],
)
def test_empty_and_double_queries_are_clear_errors(db: str, sql: str, words: str) -> None:
    proc = run_cli("db", "query", sql, "--store", db)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_stored_control_characters_are_neutralized_on_the_terminal(tmp_path: Path) -> None:
    make_bundle(tmp_path / "runs", "ctl")
    url = f"duckdb:{tmp_path / 'c.duckdb'}"
    assert run_cli("db", "sync", "--runs-root", str(tmp_path / "runs"), "--store", url).returncode == 0
    proc = run_cli(
        "db", "query", "SELECT 'a' || chr(27) || '[31mred' || chr(8238) || 'x' AS t", "--store", url
    )
    assert proc.returncode == 0 and "\x1b[31m" not in proc.stdout and "\u202e" not in proc.stdout
    assert "\\u001b" in proc.stdout


# ----------------------------------------------------------------------------------------- sync
def _sync(runs: Path, url: str, *extra: str) -> tuple[int, str, str]:
    proc = run_cli("db", "sync", "--runs-root", str(runs), "--store", url, *extra)
    return proc.returncode, proc.stdout, proc.stderr


def _indexed(url: str) -> dict[str, int]:
    store = open_embedded(parse_store_url(url), read_only=True)
    try:
        return {str(r[0]): int(r[1]) for r in store.query("SELECT run_id, n_records FROM current_runs").rows}
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["fifo-records", "zero-records", "fifo-manifest"])
def test_sync_refuses_special_files_quickly(tmp_path: Path, kind: str) -> None:
    runs = tmp_path / "runs"
    make_bundle(runs, "good")
    bad = make_bundle(runs, "bad")
    name = "manifest.json" if kind == "fifo-manifest" else "records.jsonl"
    (bad / name).unlink()
    if kind.startswith("fifo"):
        os.mkfifo(bad / name)
    else:
        (bad / name).symlink_to("/dev/zero")
    url = f"duckdb:{tmp_path / 's.duckdb'}"
    t0 = time.monotonic()
    rc, _out, err = _sync(runs, url)
    assert rc == 2 and "not a regular file" in err and "Traceback" not in err, err
    rc, _out, err = _sync(runs, url, "--skip-bad")
    assert rc == 0 and "skipped:" in err and "not a regular file" in err, err
    assert time.monotonic() - t0 < 60
    assert set(_indexed(url)) == {"good"}


def test_one_run_per_run_id_and_the_index_follows_the_disk(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    small = make_bundle(runs / "a", "same", n=6)
    big = make_bundle(runs / "b", "same", n=12)
    make_bundle(runs, "other")
    url = f"duckdb:{tmp_path / 's.duckdb'}"
    rc, _out, err = _sync(runs, url)
    assert rc == 0, err
    assert "run same is in 2 bundles: kept" in err and f"kept {big.resolve()}" in err, err
    assert _indexed(url) == {"same": len(read_bundle(big).records), "other": 15}
    shutil.rmtree(big)  # the kept copy goes: the other one is the run now
    assert _sync(runs, url)[0] == 0
    assert _indexed(url) == {"same": len(read_bundle(small).records), "other": 15}
    shutil.rmtree(small)
    assert _sync(runs, url)[0] == 0
    assert _indexed(url) == {"other": 15}
    rc, out, _err = _sync(runs, url)  # nothing changed: nothing read again
    assert rc == 0 and "0 run(s) indexed" in out and "1 unchanged" in out


def test_an_identical_copy_moved_elsewhere_is_still_indexed(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = make_bundle(runs / "x", "moved")
    url = f"duckdb:{tmp_path / 's.duckdb'}"
    assert _sync(runs, url)[0] == 0
    shutil.copytree(first, runs / "y" / "moved")
    shutil.rmtree(first)
    assert _sync(runs, url)[0] == 0
    assert _indexed(url) == {"moved": 15}
    store = open_embedded(parse_store_url(url), read_only=True)
    try:
        (source,) = store.query("SELECT source FROM current_runs").rows[0]
    finally:
        store.close()
    assert source == str((runs / "y" / "moved").resolve())


# ------------------------------------------------------------------------------------ postgres
@pytest.mark.slow
def test_postgres_query_is_one_select_bounded_in_time_and_rows(pg_cluster: PgCluster, tmp_path: Path) -> None:
    pg_cluster.fresh_db("hostileq")
    url = pg_cluster.url("hostileq")
    assert run_cli("db", "migrate", "--store", url).returncode == 0
    make_bundle(tmp_path, "pg1")
    assert run_cli("push", str(tmp_path / "pg1"), "--store", url).returncode == 0
    ok = run_cli("db", "query", "SELECT run_id FROM current_runs WHERE run_id LIKE 'pg%'", "--store", url)
    assert ok.returncode == 0 and "pg1" in ok.stdout, ok.stderr
    rows = run_cli("db", "query", "SELECT generate_series(1, 1000000)", "--store", url, "--max-rows", "5")
    assert rows.returncode == 0 and "5 row(s); more rows exist" in rows.stdout, rows.stderr
    for sql, words in (
        ("SELECT 1; SELECT 2", "one statement"),
        ("", "the query is empty"),
        ("DELETE FROM runs", "query failed"),
        ("SELECT pg_sleep(30)", "stopped at its 1 s limit"),
    ):
        proc = run_cli("db", "query", sql, "--store", url, "--timeout", "1")
        assert proc.returncode == 2 and words in proc.stderr, (sql, proc.stderr)
        assert ADMIN_PASSWORD not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
