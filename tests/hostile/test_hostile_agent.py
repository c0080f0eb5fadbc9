"""An agent run against an endpoint that asks for the worst tool calls (``hostile-tools`` in the fake
server) and echoes the API key into the trajectory: every task is accounted for, no tool call outlives
its deadline by more than a generous margin, the harness stays far below 1 GB, and no file of the bundle
— ``trace.jsonl`` included — holds the key. ``tests/benchmarks/bench_hostile_agent.py`` measures the
same run's figures for docs/figures.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from bench.results.bundle import read_bundle
from tests.helpers import ROOT
from tests.helpers.http import write_profile
from tests.servers.fake_openai import HOSTILE_STEPS, ServerThread

pytestmark = pytest.mark.slow

KEY = "sk-hostile-agent-0123456789abcdefXYZ"
DEADLINE_S = 3.0
MARGIN_S = 2.0  # the bound is deadline + 1 s; the margin allows for a loaded shared machine
TASKS = ("alpha", "beta")


def hostile_suite(path: Path, deadline_s: float = DEADLINE_S, tasks: tuple[str, ...] = TASKS) -> Path:
    tools = '["python", "read_file", "list_files", "grep", "sqlite_query", "calculator"]'
    body = 'name = "hostile-agent"\n'
    for tid in tasks:
        body += (
            f'[[tasks]]\nid = "{tid}"\nmessages = [{{ role = "user", content = "scenario=hostile-tools {tid}" }}]\n'
            'check = { type = "number", value = 42, pick = "first" }\n'
            f'agent = {{ tools = {tools}, database = "shop.db", max_steps = {len(HOSTILE_STEPS) + 2}, '
            f"python_timeout_s = {deadline_s}, tool_timeout_s = {deadline_s} }}\n"
        )
    path.write_text(body)
    return path


def run_hostile(
    tmp: Path, server: ServerThread, suite: Path
) -> tuple[subprocess.CompletedProcess[str], Path]:
    device = write_profile(tmp / "d.toml", server.base_url, top='api_key_env = "INFERCOST_HOSTILE_KEY"',
                           max_retries=0)  # fmt: skip
    out = tmp / "runs"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "INFERCOST_HOSTILE_KEY": KEY, "COLUMNS": "160"}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--device", str(device), "--suite", str(suite), "-r", "1",
         "-w", "0", "--out", str(out), "--power", "none"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    return proc, next(out.glob("*/manifest.json")).parent


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    server = ServerThread(key=KEY)
    try:
        tmp = tmp_path_factory.mktemp("hostile-agent")
        return run_hostile(tmp, server, hostile_suite(tmp / "s.toml"))
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
