"""An agent run against an endpoint that asks for the worst tool calls (``hostile-tools`` in the fake
server) and echoes the API key into the trajectory: every task is accounted for, no tool call outlives
its deadline by more than a generous margin, the harness stays far below 1 GB, and no file of the bundle
— ``trace.jsonl`` included — holds the key. ``tests/benchmarks/bench_hostile_agent.py`` measures the
same run's figures for docs/figures.md.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from bench.results.bundle import read_bundle
from tests.helpers.hostile import HOSTILE_KEY, hostile_suite, run_hostile
from tests.servers.fake_openai import HOSTILE_STEPS, ServerThread

pytestmark = pytest.mark.slow

KEY = HOSTILE_KEY
DEADLINE_S = 3.0
MARGIN_S = 2.0  # the bound is deadline + 1 s; the margin allows for a loaded shared machine
TASKS = ("alpha", "beta")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    server = ServerThread(key=KEY)
    try:
        tmp = tmp_path_factory.mktemp("hostile-agent")
        return run_hostile(tmp, server, hostile_suite(tmp / "s.toml", TASKS, DEADLINE_S))
    finally:
        server.stop()


def test_every_task_is_accounted_for(hostile_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    proc, run_dir = hostile_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    bundle = read_bundle(run_dir)
    summaries = [r for r in bundle.records if r.kind == "agent"]
    assert sorted(r.task_id for r in summaries) == sorted(TASKS)
    n_calls = sum(len(step) for step in HOSTILE_STEPS)
    for s in summaries:
        assert s.status == "ok" and s.stop_reason == "answer" and s.passed is True, s
        assert s.tool_calls == n_calls and s.model_calls == len(HOSTILE_STEPS) + 1
        # every call is refused or stopped but the key-pattern grep, the log read, /proc/1/environ in
        # the sandbox's own PID namespace and the eight allowed 1+1s
        assert s.tool_errors == n_calls - 11, s.tool_errors


def test_no_call_outlives_its_deadline(hostile_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _proc, run_dir = hostile_run
    tools = [r for r in read_bundle(run_dir).records if r.kind == "tool"]
    assert tools
    slowest = max(tools, key=lambda r: r.e2e_ms or 0)
    assert (slowest.e2e_ms or 0) / 1e3 < DEADLINE_S + MARGIN_S, (slowest.tool_name, slowest.e2e_ms)
    timed_out = [r for r in tools if r.tool_error and "deadline" in (r.check_detail or "")]
    assert len(timed_out) >= 2 * len(TASKS)  # the backtracking greps at least, in every task


def test_the_harness_stays_small(hostile_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _proc, run_dir = hostile_run
    records = read_bundle(run_dir).records
    peak = max(r.peak_rss_mb or 0 for r in records)
    assert 0 < peak < 1024, peak
    tool_peak = max(r.tool_peak_rss_mb or 0 for r in records if r.kind == "tool")
    assert tool_peak < 600  # every tool process under its own cap (the python tool's is 512 MB)


def test_no_file_of_the_bundle_holds_the_key(
    hostile_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, run_dir = hostile_run
    forms = {KEY, quote(KEY, safe=""), json.dumps(KEY)[1:-1]}
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"manifest.json", "records.jsonl", "trace.jsonl"}
    for path in files:
        data = path.read_bytes().decode("utf-8", "replace")
        assert not any(f in data for f in forms), path.name
    trace = (run_dir / "trace.jsonl").read_text()
    assert "Bearer ***" in trace  # the echo was there, and was masked
    assert not any(f in proc.stdout + proc.stderr for f in forms)
