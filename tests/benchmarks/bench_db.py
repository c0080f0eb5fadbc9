"""Figures for the results database (issue 17), and the DuckDB-versus-SQLite measurement behind choosing
DuckDB as the embedded default.

Writes SYNTHETIC bundles into a temp dir (never the repo): ``--bundles`` (1,000) bundles of ``--records``
(1,000) records each, made from 8 generated templates (``synthetic_bundle.py``: realistic per-token gaps,
energy, cost) copied under new run ids, one run per device every night, so history has a time axis. Then:

1. index: ``EmbeddedStore.sync`` of every bundle into a fresh DuckDB file (goal ≤ 60 s for 1,000,000
   records); the same rows (the shared mapping) into SQLite with ``executemany``, for the comparison; the
   time to read and map the bundles (the part both engines share) is measured on its own;
2. history: ``infercost history``'s query and change-point tests for one device and task over every
   night, on both engines (goal ≤ 2 s);
3. report: a 100,000-record report from the database (``infercost report --store ... --where run=...``
   as a child process, end to end) and, per engine, reading those 100,000 records back (goal ≤ 2 s);
4. push: ``infercost push`` of 100 bundles (100,000 records) into a throwaway local PostgreSQL (fsync on)
   (goal ≥ 20,000 records/s).

This 2-core VM is shared and noisy: wall times swing with the neighbours; CPU seconds are printed beside.

    python tests/benchmarks/bench_db.py [--bundles 1000] [--records 1000] [--skip-sqlite] [--skip-pg]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_bundle import write_bundle  # noqa: E402

from bench.results.bundle import read_bundle  # noqa: E402
from bench.results.db.embedded import find_bundle_dirs, open_embedded  # noqa: E402
from bench.results.db.filters import parse_where  # noqa: E402
from bench.results.db.history import history  # noqa: E402
from bench.results.db.mapping import POWER_COLUMNS, RUN_COLUMNS, bundle_rows, content_sha256  # noqa: E402
from bench.results.db.schema import MIGRATIONS  # noqa: E402
from bench.results.db.store import RECORD_TABLE_COLUMNS, utc_now  # noqa: E402
from bench.results.db.url import parse_store_url  # noqa: E402
from bench.results.stats import compare_samples  # noqa: E402

DEVICES = ["x", "y"]


class Timer:
    def __enter__(self) -> Timer:
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0


def make_bundles(out: Path, n_bundles: int, n_records: int) -> Path:
    """8 templates, copied under new run ids and dates (text replace: the copies stay valid bundles)."""
    tpl = out / "templates"
    templates = [write_bundle(tpl, i, n_records, 25, seed=11) for i in range(8)]
    runs = out / "runs"
    runs.mkdir()
    for i in range(n_bundles):
        src = templates[i % 8]
        old = src.name
        day = i // len(DEVICES)
        date = f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T0{i % 2}:00:00.000Z"
        new = f"night-{i:04d}-{old.removeprefix('synthetic-')}"
        dst = runs / new
        dst.mkdir()
        man = json.loads((src / "manifest.json").read_text())
        man["run_id"], man["started_utc"] = new, date
        (dst / "manifest.json").write_text(json.dumps(man))
        text = (src / "records.jsonl").read_text().replace(f'"run_id": "{old}"', f'"run_id": "{new}"')
        (dst / "records.jsonl").write_text(text)
    shutil.rmtree(tpl)
    return runs


# ------------------------------------------------------------------------------------- sqlite
def sqlite_index(runs: Path, db: Path) -> tuple[float, int]:
    con = sqlite3.connect(db)
    for st in MIGRATIONS[0].statements:
        if "duckdb" in st.engines:
            con.execute(st.sql)
    con.execute("CREATE INDEX records_run ON records (run_id, content_sha256)")
    t = Timer()
    n = 0
    with t:
        stamp = utc_now()
        con.execute("BEGIN")
        for path in find_bundle_dirs(runs):
            b = read_bundle(path)
            rows = bundle_rows(b, content_sha256(path), stamp, str(path))
            con.execute(f"INSERT INTO runs VALUES ({','.join('?' * len(RUN_COLUMNS))})",
                        [rows.run[c] for c in RUN_COLUMNS])  # fmt: skip
            if rows.power:
                con.execute(f"INSERT INTO power_summaries VALUES ({','.join('?' * len(POWER_COLUMNS))})",
                            [rows.power[c] for c in POWER_COLUMNS])  # fmt: skip
            cols = [rows.records[c] for c in RECORD_TABLE_COLUMNS]
            con.executemany(
                f"INSERT INTO records VALUES ({','.join('?' * len(cols))})", zip(*cols, strict=True)
            )
            n += rows.n_records
        con.commit()
    con.close()
    return t.wall, n


def sqlite_history(db: Path, device: str, task: str) -> float:
    con = sqlite3.connect(db)
    with Timer() as t:
        rows = con.execute(
            "SELECT run_id, decode_tps FROM current_records WHERE device_name = ? AND task_id = ? "
            "AND NOT warmup AND status = 'ok' AND decode_tps IS NOT NULL ORDER BY run_started_utc",
            [device, task],
        ).fetchall()
        series: dict[str, list[float]] = {}
        for run_id, v in rows:
            series.setdefault(run_id, []).append(v)
        values = list(series.values())
        for a, b in itertools.pairwise(values):
            compare_samples(a, b, higher_is_better=True)
    con.close()
    return t.wall


def sqlite_read(db: Path, prefix: str) -> tuple[float, int]:
    con = sqlite3.connect(db)
    with Timer() as t:
        runs = con.execute("SELECT run_id FROM current_runs WHERE run_id LIKE ?", [prefix + "%"]).fetchall()
        n = 0
        for (run_id,) in runs:
            n += len(con.execute("SELECT * FROM records WHERE run_id = ? ORDER BY seq", [run_id]).fetchall())
    con.close()
    return t.wall, n


# ------------------------------------------------------------------------------------- main
def bench_push(runs: Path, env: dict[str, str], results: dict[str, Any]) -> None:
    """100 bundles pushed in one transaction to a throwaway local PostgreSQL (fsync on)."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers.pg_server import start_cluster

    cluster = start_cluster(fsync=True)
    try:
        cluster.fresh_db("bench")
        url = cluster.url("bench")
        subprocess.run([sys.executable, "-m", "bench", "db", "migrate", "--store", url], env=env,
                       check=True, capture_output=True)  # fmt: skip
        push = [str(p) for p in find_bundle_dirs(runs)[:100]]
        from bench.results.db.postgres import open_postgres

        pg = open_postgres(parse_store_url(url))
        with Timer() as t:
            pushed = pg.push(push)
        pg.close()
        rate = pushed.records / t.wall
        results["pg_push_records_per_s"] = rate
        results["pg_push_records_per_client_cpu_s"] = pushed.records / t.cpu
        print(f"PostgreSQL push {pushed.records:,} records (100 bundles, one transaction): "
              f"{t.wall:.1f} s = {rate:,.0f} records/s (goal >= 20,000); client CPU {t.cpu:.1f} s "
              f"= {pushed.records / t.cpu:,.0f} records per CPU second")  # fmt: skip
        with Timer() as t:
            again = subprocess.run([sys.executable, "-m", "bench", "push", *push, "--store", url],
                                   env=env, check=True, capture_output=True, text=True)  # fmt: skip
        results["pg_push_again_cli_s"] = t.wall
        print(
            f"push the same 100 bundles again (CLI, all skipped): {t.wall:.1f} s: {again.stdout.strip()[-60:]}"
        )
    finally:
        cluster.stop()
        shutil.rmtree(cluster.base, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundles", type=int, default=1000)
    p.add_argument("--records", type=int, default=1000)
    p.add_argument("--skip-sqlite", action="store_true")
    p.add_argument("--skip-pg", action="store_true")
    p.add_argument("--only-push", action="store_true", help="write the bundles, then measure the push only")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="infercost-bench-db-"))
    results: dict[str, Any] = {"bundles": a.bundles, "records_per_bundle": a.records}
    try:
        with Timer() as t:
            runs = make_bundles(tmp, a.bundles, a.records)
        print(f"wrote {a.bundles} SYNTHETIC bundles x {a.records} records in {t.wall:.0f} s ({runs})")
        total = a.bundles * a.records

        if a.only_push:
            a.skip_sqlite = True
        # shared part: read + validate + map (both engines pay it)
        sample = find_bundle_dirs(runs)[:100]
        with Timer() as t:
            for path in sample:
                bundle_rows(read_bundle(path), content_sha256(path), utc_now(), str(path))
        results["read_map_s_per_100k"] = t.wall * 100_000 / (len(sample) * a.records)
        print(f"read+validate+map: {results['read_map_s_per_100k']:.2f} s per 100,000 records")

        db = tmp / "x.duckdb"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if a.only_push:
            bench_push(runs, env, results)
            print(json.dumps(results, indent=2))
            return
        store = open_embedded(parse_store_url(f"duckdb:{db}"))
        with Timer() as t:
            res = store.sync(runs)
        assert res.push.records == total, res.push.records
        results["duckdb_index_s"], results["duckdb_index_cpu_s"] = t.wall, t.cpu
        print(f"DuckDB index {total:,} records: {t.wall:.1f} s wall, {t.cpu:.1f} s CPU (goal <= 60 s)")
        with Timer() as t:
            again = store.sync(runs)
        assert not again.push.stored
        results["duckdb_resync_noop_s"] = t.wall
        print(f"DuckDB re-sync, nothing changed: {t.wall:.2f} s")
        device = "SYNTHETIC device X"
        with Timer() as t:
            points = history(store, "decode_tps", parse_where([f"device={device}"]), task="task-003")
        results["duckdb_history_s"] = t.wall
        print(f"DuckDB history ({len(points)} runs, change points tested): {t.wall:.2f} s (goal <= 2 s)")
        # the 100,000-record report of bench_report.py: 4 runs x 25,000 records, added to the same file
        big = tmp / "big"
        for i in range(4):
            write_bundle(big, i, 25_000, 25)
        store.sync(big)
        prefix = "synthetic-"
        with Timer() as t:
            bundles = store.load_bundles(parse_where([f"run={prefix}"]))
        n = sum(len(b.records) for b in bundles)
        results["duckdb_read_100k_s"], results["duckdb_read_100k_cpu_s"] = t.wall, t.cpu
        print(f"DuckDB read back {n:,} records as bundles: {t.wall:.2f} s wall, {t.cpu:.2f} s CPU")
        del bundles
        store.close()
        results["duckdb_file_mb"] = db.stat().st_size / 2**20
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for name, extra in (("summary", ["--summary"]), ("terminal", [])):
            with Timer() as t:
                subprocess.run([sys.executable, "-m", "bench", "report", "--store", f"duckdb:{db}",
                                "--where", f"run={prefix}", *extra], env=env, check=True,
                               capture_output=True)  # fmt: skip
            results[f"report_100k_{name}_s"] = t.wall
            print(f"infercost report --store --where run={prefix} ({name}, 100k of 1.1M records), "
                  f"child process end to end: {t.wall:.1f} s")  # fmt: skip
        with Timer() as t:
            subprocess.run([sys.executable, "-m", "bench", "history", "--store", f"duckdb:{db}", "--device",
                            "SYNTHETIC device X", "--task", "task-003"], env=env, check=True,
                           capture_output=True)  # fmt: skip
        results["history_cli_s"] = t.wall
        print(f"infercost history (CLI, child process end to end): {t.wall:.1f} s")

        if not a.skip_sqlite:
            sdb = tmp / "x.sqlite"
            wall, n = sqlite_index(runs, sdb)
            results["sqlite_index_s"] = wall
            print(f"SQLite index {n:,} records: {wall:.1f} s")
            results["sqlite_history_s"] = sqlite_history(sdb, device, "task-003")
            print(f"SQLite history: {results['sqlite_history_s']:.2f} s")
            wall, n = sqlite_read(sdb, "night-00")
            results["sqlite_read_100k_s"] = wall
            print(f"SQLite read back {n:,} records (100 runs; rows only, not yet bundles): {wall:.2f} s")
            results["sqlite_file_mb"] = sdb.stat().st_size / 2**20
            print(
                f"file sizes: DuckDB {results['duckdb_file_mb']:.0f} MiB, SQLite {results['sqlite_file_mb']:.0f} MiB"
            )

        if not a.skip_pg:
            bench_push(runs, env, results)
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
