"""The shared store against a real PostgreSQL server (a throwaway cluster, see tests/helpers/pg_server.py).

Covers: an insert-and-select-only role, idempotent pushes, 8 concurrent pushers of overlapping bundles,
a push killed mid-way, unreachable server, wrong credentials, a newer schema, and that no password ever
reaches the output.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.helpers import ROOT, run_cli
from tests.helpers.db import make_bundle
from tests.helpers.pg_server import ADMIN_PASSWORD, PUSHER, PUSHER_PASSWORD, PgCluster, pg_cluster

__all__ = ["pg_cluster"]  # the session fixture, used by name below

pytestmark = pytest.mark.slow


def _db(cluster: PgCluster, name: str) -> tuple[str, str]:
    """A fresh database migrated by its owner, granted to the pusher: (admin URL, pusher URL)."""
    cluster.fresh_db(name)
    admin = cluster.url(name)
    res = run_cli("db", "migrate", "--store", admin, "--grant", PUSHER)
    assert res.returncode == 0, res.stderr
    assert ADMIN_PASSWORD not in res.stdout + res.stderr
    return admin, cluster.url(name, PUSHER, PUSHER_PASSWORD)


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url) as con:
        row = con.execute(sql).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return int(row[0])


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_pusher_role_may_only_insert_and_select(pg_cluster: PgCluster, tmp_path: Path) -> None:
    admin, pusher = _db(pg_cluster, "privs")
    make_bundle(tmp_path, "r-1")
    res = run_cli("push", str(tmp_path), "--store", pusher)
    assert res.returncode == 0, res.stderr
    assert "1 run(s) stored (12+3 records)".replace("12+3", "15") in res.stdout
    assert PUSHER_PASSWORD not in res.stdout + res.stderr
    with psycopg.connect(pusher, autocommit=True) as con:
        for sql in ("DELETE FROM runs", "UPDATE runs SET complete = false", "DROP TABLE records",
                    "CREATE TABLE mine (x int)", "TRUNCATE records"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                con.execute(sql)  # type: ignore[arg-type]
    res = run_cli("push", str(tmp_path), "--store", pusher)  # idempotent
    assert res.returncode == 0 and "0 run(s) stored" in res.stdout and "1 already there" in res.stdout
    assert _count(admin, "SELECT count(*) FROM runs") == 1
    assert _count(admin, "SELECT count(*) FROM records") == 15
    # a changed bundle is a new version; readers see the newest
    lines = (tmp_path / "r-1" / "records.jsonl").read_text().splitlines()
    (tmp_path / "r-1" / "records.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    assert run_cli("push", str(tmp_path), "--store", pusher).returncode == 0
    assert _count(admin, "SELECT count(*) FROM runs") == 2
    assert _count(admin, "SELECT count(*) FROM current_runs") == 1
    assert _count(admin, "SELECT count(*) FROM current_records") == 14


def test_empty_store_and_pusher_role_says_how_to_fix(pg_cluster: PgCluster, tmp_path: Path) -> None:
    pg_cluster.fresh_db("empty")
    make_bundle(tmp_path, "r-1")
    res = run_cli("push", str(tmp_path), "--store", pg_cluster.url("empty", PUSHER, PUSHER_PASSWORD))
    assert res.returncode == 4 and "infercost db migrate" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_eight_concurrent_pushers_store_each_run_once(pg_cluster: PgCluster, tmp_path: Path) -> None:
    admin, pusher = _db(pg_cluster, "concurrent")
    bundles = [make_bundle(tmp_path / "all", f"run-{i:02d}", seed=i, n=60, device=f"box {i % 3}")
               for i in range(12)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "INFERCOST_STORE": pusher}
    procs = []
    for k in range(8):  # pusher k pushes 6 bundles, overlapping its neighbours', in its own order
        mine = [str(bundles[(k + j) % 12]) for j in range(6)]
        if k % 2:
            mine.reverse()
        procs.append(subprocess.Popen([sys.executable, "-m", "bench", "push", *mine], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))  # fmt: skip
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    covered = {(k + j) % 12 for k in range(8) for j in range(6)}
    assert _count(admin, "SELECT count(*) FROM runs") == len(covered) == 12
    assert _count(admin, "SELECT count(DISTINCT run_id) FROM runs") == 12
    assert _count(admin, "SELECT count(*) FROM records") == 12 * 63
    assert _count(admin, "SELECT count(*) FROM devices") == 3
    assert (
        _count(
            admin,
            "SELECT count(*) FROM (SELECT run_id, seq FROM records GROUP BY 1, 2 HAVING count(*) > 1) d",
        )
        == 0
    )


def test_a_push_killed_mid_way_leaves_nothing(pg_cluster: PgCluster, tmp_path: Path) -> None:
    admin, pusher = _db(pg_cluster, "killed")
    for i in range(40):
        make_bundle(tmp_path, f"big-{i:02d}", n=3000, tasks=10, seed=i)
    before = _tree_hash(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "bench", "push", str(tmp_path), "--store", pusher],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    copies = 0
    with psycopg.connect(admin, autocommit=True) as con:
        while time.monotonic() < deadline and proc.poll() is None:
            # the push's open transaction, caught while it copies records (it has written some)
            row = con.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'infercost' "
                "AND backend_xid IS NOT NULL AND query LIKE 'COPY records%'"
            ).fetchone()
            copies += int(row[0]) if row else 0
            if copies >= 3:
                break
            time.sleep(0.01)
    assert proc.poll() is None, "the push finished before it could be killed; make it bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert copies >= 3
    time.sleep(0.5)  # the server notices the dropped connection and rolls back
    assert _count(admin, "SELECT count(*) FROM runs") == 0
    assert _count(admin, "SELECT count(*) FROM records") == 0
    assert _tree_hash(tmp_path) == before
    res = run_cli("push", str(tmp_path / "big-00"), "--store", pusher)  # the store still works
    assert res.returncode == 0 and _count(admin, "SELECT count(*) FROM runs") == 1


def test_a_bad_bundle_in_a_push_stores_nothing(pg_cluster: PgCluster, tmp_path: Path) -> None:
    admin, pusher = _db(pg_cluster, "badbundle")
    make_bundle(tmp_path, "a-good")
    bad = make_bundle(tmp_path, "z-bad")
    (bad / "records.jsonl").write_text("{}\n{}\n")
    res = run_cli("push", str(tmp_path / "a-good"), str(bad), "--store", pusher)
    assert res.returncode == 2 and "z-bad" in res.stderr and "Traceback" not in res.stderr
    assert _count(admin, "SELECT count(*) FROM runs") == 0


def test_unreachable_and_refused(pg_cluster: PgCluster, tmp_path: Path) -> None:
    admin, _pusher = _db(pg_cluster, "faults")
    make_bundle(tmp_path, "r-1")
    before = _tree_hash(tmp_path)
    nowhere = f"postgresql://{PUSHER}:{PUSHER_PASSWORD}@127.0.0.1:9/faults"  # nothing listens on port 9
    res = run_cli("push", str(tmp_path), "--store", nowhere)
    assert res.returncode == 4, res.stderr
    assert "cannot reach the store" in res.stderr and "start the server" in res.stderr
    assert PUSHER_PASSWORD not in res.stderr and _tree_hash(tmp_path) == before
    wrong = pg_cluster.url("faults", PUSHER, "not-the-password-42")
    res = run_cli("push", str(tmp_path), "--store", wrong)
    assert res.returncode == 4 and "refused these credentials" in res.stderr
    assert "not-the-password-42" not in res.stderr
    res = run_cli("history", "--store", wrong)
    assert res.returncode == 4
    # newer schema in the store: refused, nothing written
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute("UPDATE schema_meta SET value = '999' WHERE key = 'db_schema_version'")
    res = run_cli("push", str(tmp_path), "--store", _pusher)
    assert res.returncode == 4 and "schema version 999" in res.stderr and "upgrade infercost" in res.stderr
    assert _count(admin, "SELECT count(*) FROM runs") == 0


def test_history_and_report_from_the_store(
    pg_cluster: PgCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _admin, pusher = _db(pg_cluster, "reading")
    for day in range(1, 5):
        make_bundle(tmp_path, f"n-{day}", started_utc=f"2026-11-0{day}T01:00:00.000Z",
                    decode_tps=100.0 if day < 3 else 70.0, seed=day)  # fmt: skip
    assert run_cli("push", str(tmp_path), "--store", pusher).returncode == 0
    monkeypatch.setenv("INFERCOST_STORE", pusher)  # the store from the environment, not a flag
    res = run_cli("history", "--metric", "decode_tps_mean", "--device", "bench")
    assert res.returncode == 0, res.stderr
    assert "1 found" in res.stdout and "n-3" in res.stdout
    assert PUSHER_PASSWORD not in res.stdout + res.stderr
    res = run_cli("report", "--store", pusher, "--where", "since=2026-11-03", "-o", str(tmp_path / "r.md"))
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "r.md").read_text()
    res = run_cli("report", "--summary", "--where", "device=bench", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["rows"]
    assert [r["run_id"] for r in rows] == ["n-1", "n-2", "n-3", "n-4"] and rows[3]["n"] == 12
    assert "n-3" in text and "n-4" in text and "n-1" not in text
    assert PUSHER_PASSWORD not in text
