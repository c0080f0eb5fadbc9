"""Load against a local fake server: closed loop, open loop on a seeded Poisson schedule, Ctrl-C, and
a planted API key that must never reach anything the run writes or prints."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from bench.results.bundle import read_bundle
from bench.results.metrics.throughput import throughput_metrics
from bench.run.traffic import poisson_schedule
from tests.helpers import ROOT, run_cli
from tests.helpers.http import write_profile
from tests.helpers.records import wait_for_records
from tests.servers.fake_openai import ServerThread

MINI = str(ROOT / "tests" / "fixtures" / "suites" / "mini.toml")


def one_task_suite(path: Path, scenario: str, max_tokens: int = 8) -> Path:
    path.write_text(
        f'name = "{scenario}"\n[[tasks]]\nid = "t"\nmax_tokens = {max_tokens}\n'
        f'messages = [{{ role = "user", content = "scenario={scenario}" }}]\n'
        'check = { type = "contains", values = ["quick"] }\n'
    )
    return path


def max_overlap(intervals: list[tuple[int, int]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = cur = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def test_poisson_schedule_is_seeded_and_has_the_right_rate() -> None:
    a = poisson_schedule(2000, 50.0, seed=3)
    assert a == poisson_schedule(2000, 50.0, seed=3) and a != poisson_schedule(2000, 50.0, seed=4)
    assert a[0] == 0 and all(y > x for x, y in itertools.pairwise(a))
    assert (len(a) - 1) / a[-1] == pytest.approx(50, rel=0.08)


def test_open_loop_follows_the_schedule(fake_server: ServerThread, tmp_path: Path) -> None:
    device = write_profile(tmp_path / "d.toml", fake_server.base_url)
    suite = one_task_suite(tmp_path / "s.toml", "ok")
    proc = run_cli(
        "run", "--device", str(device), "--suite", str(suite), "-r", "60", "-w", "2", "--rate", "40",
        "--seed", "9", "--slo-ttft-ms", "1000", "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    bundle = read_bundle(summary["run_dir"])
    assert bundle.manifest.settings.mode == "open_loop" and bundle.manifest.settings.seed == 9
    measured = sorted((r for r in bundle.records if not r.warmup), key=lambda r: r.scheduled_ns or 0)
    assert len(measured) == 60 and all(r.status == "ok" and r.scheduled_ns is not None for r in measured)
    first = measured[0].scheduled_ns or 0
    offsets = [((r.scheduled_ns or 0) - first) / 1e9 for r in measured]
    assert offsets == pytest.approx(poisson_schedule(60, 40.0, 9), abs=2e-6)
    lag_ms = sorted((r.start_ns - (r.scheduled_ns or 0)) / 1e6 for r in measured)
    assert lag_ms[0] >= 0 and lag_ms[len(lag_ms) // 2] < 20, lag_ms  # loose: CI machines are shared
    o = summary["overall"]
    assert o["request_throughput_rps"] == pytest.approx(40, rel=0.6) and o["goodput_rps"] > 0
    assert "throughput" not in proc.stderr


def test_closed_loop_keeps_n_in_flight(fake_server: ServerThread, tmp_path: Path) -> None:
    device = write_profile(tmp_path / "d.toml", fake_server.base_url)
    suite = one_task_suite(tmp_path / "s.toml", "slow")
    t0 = time.monotonic()
    proc = run_cli(
        "run", "--device", str(device), "--suite", str(suite), "-r", "8", "-w", "0", "-c", "4",
        "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    bundle = read_bundle(json.loads(proc.stdout)["run_dir"])
    spans = [(r.start_ns, r.end_ns) for r in bundle.records]
    assert len(spans) == 8 and max_overlap(spans) == 4
    assert bundle.manifest.backend.settings.recorded()["max_connections"] == 4
    assert time.monotonic() - t0 < 60


def test_ctrl_c_under_load_records_in_flight_requests_as_cancelled(
    fake_server: ServerThread, tmp_path: Path
) -> None:
    device = write_profile(tmp_path / "d.toml", fake_server.base_url)
    suite = one_task_suite(tmp_path / "s.toml", "slow")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--device", str(device), "--suite", str(suite), "-r", "400",
         "-w", "0", "-c", "3", "--out", str(tmp_path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    records = wait_for_records(tmp_path, 4, timeout_s=60)
    assert records is not None
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    bundle = read_bundle(records.parent)
    assert bundle.manifest.interrupted and not bundle.manifest.complete
    statuses = [r.status for r in bundle.records]
    assert statuses.count("ok") >= 4 and 1 <= statuses.count("cancelled") <= 3
    assert set(statuses) <= {"ok", "cancelled"}


def test_fatal_error_under_load_cancels_the_rest(tmp_path: Path) -> None:
    server = ServerThread(key="right-key-123456")
    try:
        device = write_profile(tmp_path / "d.toml", server.base_url, top='api_key_env = "INFERCOST_LOAD_KEY"')
        suite = tmp_path / "s.toml"
        suite.write_text(
            'name = "s"\n'
            '[[tasks]]\nid = "slow"\nmax_tokens = 8\nmessages = [{ role = "user", content = "scenario=slow" }]\n'
            'check = { type = "none" }\n'
            '[[tasks]]\nid = "refused"\nmessages = [{ role = "user", content = "scenario=401" }]\n'
            'check = { type = "none" }\n'
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT), "INFERCOST_LOAD_KEY": "right-key-123456"}
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "run", "--device", str(device), "--suite", str(suite), "-r", "3",
             "-w", "0", "-c", "2", "--out", str(tmp_path)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 4, proc.stderr
        bundle = read_bundle(next(tmp_path.glob("*/manifest.json")).parent)
        by_status = {r.task_id + ":" + r.status for r in bundle.records}
        assert "refused:error" in by_status and "slow:cancelled" in by_status
        assert not bundle.manifest.complete
    finally:
        server.stop()


def test_open_loop_needs_an_endpoint(tmp_path: Path) -> None:
    """In-process devices take --concurrency N (bench.run.batched) but not --rate, nor more streams than
    one llama.cpp context holds."""
    proc = run_cli("run", "--suite", MINI, "--rate", "2", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--rate: device" in proc.stderr and "open-loop" in proc.stderr
    proc = run_cli("run", "--suite", MINI, "--concurrency", "257", "--out", str(tmp_path))
    assert proc.returncode == 2 and "at most 256 sequences" in proc.stderr
    proc = run_cli("run", "--suite", MINI, "--rate", "0", "--out", str(tmp_path))
    assert proc.returncode == 2 and "must be positive" in proc.stderr


def test_planted_key_never_reaches_disk_or_output(tmp_path: Path) -> None:
    key = "sk-planted-" + os.urandom(12).hex()
    server = ServerThread(key=key)
    try:
        device = write_profile(
            tmp_path / "d.toml", server.base_url, top='api_key_env = "INFERCOST_PLANTED"',
            max_retries=1, backoff_base_s=0.01, idle_timeout_s=1.0,
        )  # fmt: skip
        suite = tmp_path / "s.toml"
        tasks = ["ok", "cut", "500-always", "garbage", "401"]
        suite.write_text(
            'name = "s"\n'
            + "".join(
                f'[[tasks]]\nid = "{t}"\nmax_tokens = 8\nmessages = [{{ role = "user", content = "scenario={t}" }}]\n'
                'check = { type = "none" }\n'
                for t in tasks
            )
        )
        out = tmp_path / "runs"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "INFERCOST_PLANTED": key}
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "run", "--device", str(device), "--suite", str(suite), "-r", "1",
             "-w", "0", "--out", str(out), "--json"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 4, proc.stderr  # the 401 at the end stops the run
        assert f"Bearer {key}" in server.app.seen_auth  # the key was really sent
        files = [p for p in out.rglob("*") if p.is_file()]
        assert {p.name for p in files} >= {"manifest.json", "records.jsonl"}
        for form in (key, quote(key, safe=""), key[len("sk-planted-") :]):
            for p in files:
                assert form.encode() not in p.read_bytes(), p
            assert form not in proc.stdout and form not in proc.stderr
        manifest = json.loads((files[0].parent / "manifest.json").read_text())
        assert manifest["device"]["api_key_env"] == "INFERCOST_PLANTED"
        errors = [
            json.loads(x)["error"] for x in (files[0].parent / "records.jsonl").read_text().splitlines()
        ]
        # the server echoed the key in its 401 body: the record and the message show it scrubbed
        assert any(e and "Incorrect API key provided: Bearer ***" in e for e in errors), errors
        assert "Bearer ***" in proc.stderr
    finally:
        server.stop()


def test_throughput_metrics_by_hand() -> None:
    from bench.results.schema import Record

    def rec(
        start_ms: float, end_ms: float, ttft: float, tpot: float | None, out: int, status: str = "ok"
    ) -> Record:
        return Record(
            run_id="r", task_id="t", category="c", repetition=0, warmup=False, status=status,  # type: ignore[arg-type]
            started_utc="", start_ns=int(start_ms * 1e6), end_ns=int(end_ms * 1e6), ttft_ms=ttft,
            tpot_ms=tpot, completion_tokens=out,
        )  # fmt: skip

    recs = [
        rec(0, 1000, 100, 10, 50),
        rec(500, 2000, 300, 20, 70),
        rec(1000, 2000, 50, None, 1),
        rec(0, 10, 1, 1, 9, "error"),
    ]
    m = throughput_metrics(recs, slo_ttft_ms=200, slo_tpot_ms=15)
    assert m["window_s"] == 2.0 and m["request_throughput_rps"] == 1.5  # 3 ok in 2 s
    assert m["output_tps_total"] == 60.5  # (50 + 70 + 1) / 2
    assert m["goodput_rps"] == 1.0 and m["slo_attainment"] == 0.5  # first and third meet both
    assert throughput_metrics(recs)["goodput_rps"] is None
