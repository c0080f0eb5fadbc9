"""`infercost run --concurrency N` on an in-process device, as a user runs it: a closed loop of N streams
on one llama.cpp context (bench.run.batched), its bundle, Ctrl-C, `--rate` refused, and `infercost
breakeven` over concurrency 1 and 2 using the measured aggregate."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.results.bundle import read_bundle
from bench.results.schema import Record
from tests.helpers import ROOT, run_cli
from tests.helpers.records import wait_for_records

pytestmark = pytest.mark.engine  # real llama.cpp: runs the bundled model

MINI = str(ROOT / "tests" / "fixtures" / "suites" / "mini.toml")
# an in-process device with prices: breakeven needs a price, a lifetime, idle watts and electricity
PRICED_LOCAL = """name = "priced in-process test device"
kind = "local"
backend = "llama_cpp"
as_of = 2026-11-28
source = "a test"
price_usd = 600
lifetime_years = 3
utilization = 0.5
idle_w = 10
max_w = 40
kwh_usd = 0.2
[llama_cpp]
n_ctx = 2048
"""


def _overlap(records: list[Record]) -> bool:
    windows = sorted((r.start_ns, r.end_ns) for r in records)
    return any(b[0] < a[1] for a, b in itertools.pairwise(windows))


def test_concurrency_2_in_process_then_breakeven_uses_the_aggregate(tmp_path: Path) -> None:
    profile = tmp_path / "priced.toml"
    profile.write_text(PRICED_LOCAL)
    dirs = []
    for c in ("1", "2"):
        proc = run_cli(
            "run", "--device", str(profile), "--suite", MINI, "-r", "2", "-w", "1", "--concurrency", c,
            "--out", str(tmp_path / f"c{c}"), "--json", timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        dirs.append(json.loads(proc.stdout)["run_dir"])
    summary = json.loads(proc.stdout)
    assert summary["overall"]["output_tps_total"] > 0 and summary["overall"]["request_throughput_rps"] > 0
    one, two = (read_bundle(d) for d in dirs)
    m = two.manifest
    assert m.complete and m.settings.mode == "closed_loop" and m.settings.concurrency == 2
    assert m.backend.settings.n_seq_max == 2 and m.backend.settings.recorded()["n_ctx_seq"] == 1024
    assert one.manifest.settings.mode == "sequential" and "n_seq_max" not in one.manifest.backend.settings
    records = two.records
    assert len(records) == 9 and sum(r.warmup for r in records) == 3
    warm, measured = [r for r in records if r.warmup], [r for r in records if not r.warmup]
    assert max(r.end_ns for r in warm) <= min(r.start_ns for r in measured)  # warmups first
    for r in records:
        assert r.status == "ok" and r.token_count_source == "engine" and r.completion_tokens
        assert r.start_ns < r.start_ns + r.ttft_ms * 1e6 <= r.end_ns and r.ttft_ms <= r.e2e_ms
        assert len(r.itl_ms) == len([x for x in r.itl_ms if x >= 0])
    assert _overlap(measured)  # two streams really ran at once
    for r in [*one.records, *records]:  # engine timings on every generation, sequential or batched
        assert r.engine_timings is not None and r.engine_timings["prompt_eval_tokens"] == r.prompt_tokens
    # greedy answers do not depend on the company a stream keeps
    answers = {(r.task_id, r.output_text) for r in one.records}
    assert {(r.task_id, r.output_text) for r in records} == answers
    js = run_cli("breakeven", *dirs, "--cloud", "openai-gpt-4o-mini", "--json", timeout=120)
    assert js.returncode == 0, js.stderr
    rows = {r["concurrency"]: r for r in json.loads(js.stdout)["levels"]}
    assert sorted(rows) == [1, 2]
    assert rows[1]["capacity_from"].startswith("one request at a time")
    assert "measured aggregate" in rows[2]["capacity_from"] and "at concurrency 2" in rows[2]["capacity_from"]
    ok2 = [r for r in measured if r.status == "ok"]
    busy_ns = max(r.end_ns for r in measured) - min(r.start_ns for r in measured)
    assert rows[2]["tasks_per_s"] >= len(ok2) / (busy_ns / 1e9) * (1 - 1e-6)  # union ≤ span


def test_rate_on_an_in_process_device_is_refused(tmp_path: Path) -> None:
    proc = run_cli("run", "--suite", MINI, "--rate", "2", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "open-loop arrivals on one in-process engine are not supported yet" in proc.stderr
    assert "--concurrency N" in proc.stderr and not list(tmp_path.iterdir())


def test_ctrl_c_under_concurrency_keeps_finished_records(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "bench", "run", "--suite", MINI, "-r", "40", "-w", "0",
           "--concurrency", "2", "--power", "none", "--out", str(tmp_path)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    records = wait_for_records(tmp_path, 3, timeout_s=120)
    assert records is not None, "the run never wrote records"
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    bundle = read_bundle(records.parent)
    assert not bundle.manifest.complete and bundle.manifest.interrupted
    assert len([r for r in bundle.records if r.status == "ok"]) >= 3
    cancelled = [r for r in bundle.records if r.status == "cancelled"]
    assert 1 <= len(cancelled) <= 2  # the requests in flight, at most one per stream
    assert all(r.status in ("ok", "cancelled") for r in bundle.records)
