"""The embedded results database (DuckDB): schema, mapping round trip, incremental sync, history, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from bench.errors import BundleError, EnvironmentNotReady, UsageError
from bench.results.bundle import read_bundle
from bench.results.db.embedded import open_embedded
from bench.results.db.filters import parse_where
from bench.results.db.history import history
from bench.results.db.mapping import RECORD_COLUMN_NAMES
from bench.results.db.schema import DB_SCHEMA_VERSION
from bench.results.db.url import parse_store_url
from bench.results.schema import Record
from tests.helpers import run_cli
from tests.helpers.db import make_bundle


def _store(tmp_path: Path):  # type: ignore[no-untyped-def]
    return open_embedded(parse_store_url(f"duckdb:{tmp_path / 'x.duckdb'}"))


def test_every_record_field_has_a_column() -> None:
    """A new Record field must come with a migration, not vanish on its way into a database."""
    assert set(RECORD_COLUMN_NAMES) | {"run_id"} == set(Record.model_fields)


def test_round_trip_is_exact(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = make_bundle(runs, "r-a")
    with _store(tmp_path) as store:
        store.sync(runs)  # type: ignore[attr-defined]
        (row,) = store.runs(parse_where([])).rows
        back = store.load_bundle(row[0], row[1])
    orig = read_bundle(path)
    assert back.manifest == orig.manifest
    assert [r.model_dump() for r in back.records] == [r.model_dump() for r in orig.records]
    assert back.records[3].retries == [{"attempt": 1, "error": "x"}]


def test_sync_is_incremental_and_mirrors_the_bundles(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    a = make_bundle(runs, "r-a")
    make_bundle(runs, "r-b", device="other box")
    (runs / ".r-c.partial").mkdir()  # a run being created: not a bundle yet
    with _store(tmp_path) as store:
        first = store.sync(runs)  # type: ignore[attr-defined]
        assert sorted(first.push.stored) == ["r-a", "r-b"] and first.push.records == 30
        again = store.sync(runs)  # type: ignore[attr-defined]
        assert again.push.stored == [] and again.unchanged == 2
        # a resumed bundle (one more line) replaces its older version
        lines = (a / "records.jsonl").read_text().splitlines()
        (a / "records.jsonl").write_text("\n".join([*lines, lines[-1]]) + "\n")
        changed = store.sync(runs)  # type: ignore[attr-defined]
        assert changed.push.stored == ["r-a"] and changed.unchanged == 1
        counts = dict(store.iter_tables())
        assert counts["runs"] == 2 and counts["records"] == 31
        import shutil

        shutil.rmtree(runs / "r-b")
        gone = store.sync(runs)  # type: ignore[attr-defined]
        assert gone.removed == ["r-b"]
        assert dict(store.iter_tables())["runs"] == 1


def test_a_bad_bundle_writes_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_bundle(runs, "r-a")
    bad = make_bundle(runs, "r-z")
    (bad / "records.jsonl").write_text('{"broken": \n{"also": "bad"}\n')
    with _store(tmp_path) as store:
        with pytest.raises(BundleError, match="r-z"):
            store.sync(runs)  # type: ignore[attr-defined]
        assert dict(store.iter_tables())["runs"] == 0
    res = run_cli("db", "sync", "--runs-root", str(runs), "--store", f"duckdb:{tmp_path / 'x.duckdb'}")
    assert res.returncode == 2 and "r-z" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = run_cli("db", "sync", "--runs-root", str(runs), "--store", f"duckdb:{tmp_path / 'x.duckdb'}",
                  "--skip-bad")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "1 run(s) indexed" in res.stdout and "skipped" in res.stderr


def _series(runs: Path) -> None:
    """Six nightly runs on one box; decode drops 20% from the fourth night on; a second box is flat."""
    for day in range(1, 7):
        tps = 100.0 if day < 4 else 80.0
        make_bundle(runs, f"box-{day}", started_utc=f"2026-11-0{day}T02:00:00.000Z", decode_tps=tps, seed=day)
        make_bundle(runs, f"jet-{day}", device="jetson orin", started_utc=f"2026-11-0{day}T03:00:00.000Z",
                    decode_tps=30.0, seed=100 + day)  # fmt: skip


def test_history_marks_the_change_point(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _series(runs)
    with _store(tmp_path) as store:
        store.sync(runs)  # type: ignore[attr-defined]
        points = history(store, "decode_tps", parse_where(["device=bench"]), task="task-1")
        assert [p.run_id for p in points] == [f"box-{d}" for d in range(1, 7)]
        assert [p.change_point for p in points] == [False, False, False, True, False, False]
        assert "slower" in points[3].verdict and points[3].change is not None and points[3].change < -0.1
        jetson = history(store, "decode_tps", parse_where(["device=jetson"]))
        assert len(jetson) == 6 and not any(p.change_point for p in jetson)
        since = history(store, "decode_tps", parse_where(["device=bench", "since=2026-11-04"]))
        assert [p.run_id for p in since] == ["box-4", "box-5", "box-6"]
        with pytest.raises(UsageError, match="unknown metric"):
            history(store, "speed", parse_where([]))


def test_history_and_query_cli(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _series(runs)
    db = f"duckdb:{tmp_path / 'h.duckdb'}"
    assert run_cli("db", "sync", "--runs-root", str(runs), "--store", db).returncode == 0
    res = run_cli("history", "--metric", "decode_tps", "--device", "bench box", "--task", "task-0",
                  "--store", db, "-o", str(tmp_path / "hist.md"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "1 found" in res.stdout and "◆" in res.stdout and "jet-" not in res.stdout
    assert "'decode_tps' is deprecated: it is now 'decode_tps_mean'" in res.stderr  # still read, said once
    page = (tmp_path / "hist.md").read_text()
    assert "box-4" in page and (tmp_path / "hist.png").stat().st_size > 1000
    res = run_cli("db", "query", "SELECT device_name, count(*) AS n FROM current_runs GROUP BY 1 ORDER BY 1",
                  "--store", db, "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {
        "format": "infercost-query/1",
        "columns": ["device_name", "n"],
        "rows": [{"device_name": "bench box", "n": 6}, {"device_name": "jetson orin", "n": 6}],
    }
    res = run_cli("db", "query", "SELEC nonsense", "--store", db)
    assert res.returncode == 2 and "query failed" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("db", "query", "DELETE FROM runs", "--store", db)  # read-only: bundles are the truth
    assert res.returncode == 2


def test_report_from_the_database_with_filters(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _series(runs)
    db = f"duckdb:{tmp_path / 'r.duckdb'}"
    assert run_cli("db", "sync", "--runs-root", str(runs), "--store", db).returncode == 0
    res = run_cli("report", "--store", db, "--where", "device=jetson", "since=2026-11-05",
                  "-o", str(tmp_path / "r.json"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["format"] == "infercost-report/1"
    text = json.dumps(doc)
    assert "jet-5" in text and "jet-6" in text and "jet-4" not in text and "box-" not in text
    res = run_cli("report", "--store", db, "--where", "device=jetson", "--summary", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert (
        summary["format"] == "infercost-db-summary/1" and summary["fields"]["pass_rate"]["unit"] == "fraction"
    )
    rows = summary["rows"]
    assert [r["run_id"] for r in rows] == [f"jet-{d}" for d in range(1, 7)]
    assert all(r["n"] == 12 and r["errors"] == 0 and r["pass_rate"] == 0.5 for r in rows)
    assert all(29 < r["decode_tps_mean"] < 31 and 5 <= r["ttft_p50_ms"] <= 9 for r in rows)
    res = run_cli("report", "--store", db, "--where", "device=nothing-like-this")
    assert res.returncode == 2 and "no stored run matches" in res.stderr
    res = run_cli("report", "--store", db, "--where", "colour=red")
    assert res.returncode == 2 and "unknown key" in res.stderr


def test_bad_store_urls_are_input_errors(tmp_path: Path) -> None:
    for url in ("mysql://u:hunter22@h/db", "http://x/y", "just-a-name"):
        res = run_cli("history", "--store", url)
        assert res.returncode == 2, (url, res.stderr)
        assert "hunter22" not in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    res = run_cli("push", str(tmp_path), "--store", "ftp://x/y")
    assert res.returncode == 2 and "unknown scheme 'ftp'" in res.stderr


def test_newer_database_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    with _store(tmp_path / "sub") as store:
        pass
    con = duckdb.connect(str(tmp_path / "sub" / "x.duckdb"))
    con.execute(
        "UPDATE schema_meta SET value = ? WHERE key = 'db_schema_version'", [str(DB_SCHEMA_VERSION + 1)]
    )
    con.close()
    with pytest.raises(EnvironmentNotReady, match="newer than this infercost"):
        _store(tmp_path / "sub")
    res = run_cli("db", "status", "--store", f"duckdb:{tmp_path / 'sub' / 'x.duckdb'}")
    assert res.returncode == 4 and "upgrade infercost" in res.stderr
    path.write_bytes(b"not a database at all" * 100)
    res = run_cli("db", "status", "--store", f"duckdb:{path}")
    assert res.returncode == 2 and "not a DuckDB database" in res.stderr
    del store


def test_embedded_default_is_created_on_first_use(tmp_path: Path) -> None:
    """No --store: history syncs reports/runs/ into reports/infercost.duckdb, then reads it."""
    _series(tmp_path / "reports" / "runs")
    res = run_cli("history", "--device", "jetson", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "reports" / "infercost.duckdb").is_file() and "jet-6" in res.stdout
    res = run_cli("db", "status", cwd=tmp_path)
    assert res.returncode == 0 and "runs" in res.stdout and " 12" in res.stdout
    res = run_cli("db", cwd=tmp_path)
    assert res.returncode == 2 and "say what to do" in res.stderr


def test_gate_baseline_and_choose_from_the_database(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _series(runs)
    db = f"duckdb:{tmp_path / 'g.duckdb'}"
    assert run_cli("db", "sync", "--runs-root", str(runs), "--store", db).returncode == 0
    rules = tmp_path / "gate.toml"
    rules.write_text('[absolute]\ndecode_tps = ">= 20"\n\n[relative]\ndecode_tps = "-5%"\n')
    # the 20% drop of night 4 against the stored night 3: fails
    res = run_cli("gate", str(runs / "box-4"), "--rules", str(rules), "--baseline", "box-3", "--store", db)
    assert res.returncode == 1, res.stderr
    assert "box-3" in res.stdout
    # against the newest stored run of the same box and model since the drop: passes
    res = run_cli("gate", str(runs / "box-6"), "--rules", str(rules), "--baseline", "latest", "--store", db,
                  "--where", "device=bench", "until=2026-11-06")  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "box-5" in res.stdout
    res = run_cli("gate", str(runs / "box-6"), "--rules", str(rules), "--baseline", "nope", "--store", db)
    assert res.returncode == 2 and "no complete stored run" in res.stderr
    # choose among the stored runs of one night: the jetson (30 tok/s) and the box (80) both qualify
    res = run_cli("choose", "--rules", str(rules), "--by", "latency", "--store", db, "--where", "since=2026-11-06",
                  "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert len(doc["candidates"]) == 2 and "box-6" in json.dumps(doc["candidates"])


def test_compare_stored_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _series(runs)
    db = f"duckdb:{tmp_path / 'c.duckdb'}"
    assert run_cli("db", "sync", "--runs-root", str(runs), "--store", db).returncode == 0
    res = run_cli("compare", "box-3", "box-4", "--store", db, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["baseline"]["run_ids"] == ["box-3"] and doc["candidate"]["run_ids"] == ["box-4"]
    decode = doc["metrics"]["decode_tps_mean"]
    assert decode["significant"] and decode["change"] < -0.15
    res = run_cli("compare", "box", "box-4", "--store", db)  # ambiguous prefix
    assert res.returncode == 2 and "stored runs start with it" in res.stderr
