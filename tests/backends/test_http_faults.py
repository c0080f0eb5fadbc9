"""Faults over HTTP, injected by a local server that misbehaves on purpose; the records must say so.

One CLI run walks every fault (tests/fixtures/suites/faults.toml); separate runs cover the faults that
stop a run (refused key, unreachable endpoint, an endpoint that dies mid-run) and the key's secrecy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.results.bundle import read_bundle
from bench.results.schema import Record
from tests.helpers import ROOT, run_cli
from tests.helpers.http import free_port, write_profile
from tests.servers.fake_openai import ServerThread

FAULTS = str(ROOT / "tests" / "fixtures" / "suites" / "faults.toml")
MINI = str(ROOT / "tests" / "fixtures" / "suites" / "mini.toml")
FAST = {
    "max_retries": 2,
    "backoff_base_s": 0.01,
    "backoff_max_s": 0.05,
    "max_retry_wait_s": 5,
    "first_byte_timeout_s": 1.0,
    "idle_timeout_s": 1.0,
    "connect_timeout_s": 2.0,
}


@pytest.fixture(scope="module")
def fault_records(fake_server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Record]:
    tmp = tmp_path_factory.mktemp("faults")
    device = write_profile(tmp / "fake.toml", fake_server.base_url, **FAST)
    t0 = time.monotonic()
    proc = run_cli(
        "run", "--device", str(device), "--suite", FAULTS, "-r", "1", "-w", "0", "--out", str(tmp), "--json"
    )
    assert time.monotonic() - t0 < 60
    assert proc.returncode == 3, proc.stderr  # some requests errored; the run finished
    assert "Traceback" not in proc.stderr
    summary = json.loads(proc.stdout)
    bundle = read_bundle(summary["run_dir"])
    assert bundle.manifest.complete
    return {r.task_id: r for r in bundle.records}


def test_clean_and_fragmented_streams_are_ok(fault_records: dict[str, Record]) -> None:
    for name in ("ok", "fragmented", "no-done"):
        r = fault_records[name]
        assert r.status == "ok", (name, r.error)
        assert r.output_text == "The quick brown fox jumps over the lazy", name
        assert r.completion_tokens == 8 and r.token_count_source == "usage" and r.n_chunks == 8
        assert r.ttft_ms and r.e2e_ms and r.e2e_ms >= r.ttft_ms and len(r.itl_ms) == 7
        assert r.passed and r.retries is None and r.http_status == 200


def test_usage_details_are_recorded_apart(fault_records: dict[str, Record]) -> None:
    r = fault_records["usage"]
    assert r.status == "ok" and r.token_count_source == "usage"
    assert r.reasoning_tokens == 5 and r.completion_tokens == 8  # 13 billed, 8 visible
    assert r.cached_tokens == 4 and r.prompt_tokens == 11
    assert r.engine_timings == {"prompt_n": 7.0, "prompt_ms": 1.5, "predicted_n": 8.0, "predicted_ms": 9.0}
    assert r.decode_tps is not None and r.tpot_ms is not None


def test_rate_limits_honour_retry_after(fault_records: dict[str, Record]) -> None:
    r = fault_records["429"]
    assert r.status == "ok" and r.passed
    assert r.retries is not None and [a["status"] for a in r.retries] == [429, 429]
    assert all(a["retry_after_s"] == pytest.approx(0.03) for a in r.retries)
    assert all(30 <= a["wait_ms"] <= 33.1 for a in r.retries)
    assert r.retry_delay_ms is not None and r.retry_delay_ms >= 60
    dated = fault_records["429-date"]
    assert dated.status == "ok" and dated.retries and dated.retries[0]["retry_after_s"] > 0


def test_retry_after_beyond_the_budget_gives_up_at_once(fault_records: dict[str, Record]) -> None:
    r = fault_records["429-long"]
    assert (
        r.status == "error"
        and "HTTP 429" in (r.error or "")
        and "exceeds the retry budget" in (r.error or "")
    )
    assert r.retries and len(r.retries) == 1 and r.retries[0]["wait_ms"] == 0
    assert r.passed is False and r.http_status == 429


def test_server_errors_back_off_and_retry(fault_records: dict[str, Record]) -> None:
    once = fault_records["500"]
    assert once.status == "ok" and once.retries and once.retries[0]["status"] == 500
    assert 0 <= once.retries[0]["wait_ms"] <= 10.0  # full jitter within base 0.01 s
    always = fault_records["500-always"]
    assert always.status == "error" and "gave up after 3 attempts" in (always.error or "")
    assert [a["status"] for a in always.retries or []] == [500, 500, 500]
    reset = fault_records["reset"]
    assert reset.status == "ok" and reset.retries and "before any content" in reset.retries[0]["reason"]


def test_cut_stream_keeps_its_partial_answer(fault_records: dict[str, Record]) -> None:
    r = fault_records["cut"]
    assert r.status == "error" and "stream cut after 3 content chunks" in (r.error or "")
    assert r.output_text == "The quick brown" and r.n_chunks == 3 and r.retries and len(r.retries) == 1
    assert r.ttft_ms is not None and r.passed is False


def test_malformed_and_error_frames_end_the_request(fault_records: dict[str, Record]) -> None:
    g = fault_records["garbage"]
    assert g.status == "error" and "malformed JSON" in (g.error or "") and g.output_text == "The quick"
    e = fault_records["error-frame"]
    assert e.status == "error" and "model overloaded" in (e.error or "") and e.output_text == "The quick"


def test_timeouts_first_byte_and_idle(fault_records: dict[str, Record]) -> None:
    slow = fault_records["slow-first-byte"]
    assert slow.status == "timeout" and "first byte > 1 s" in (slow.error or "")
    assert slow.ttft_ms is None and slow.e2e_ms is not None and 950 <= slow.e2e_ms < 2500
    idle = fault_records["idle"]
    assert idle.status == "timeout" and "idle gap" in (idle.error or "")
    assert idle.output_text == "The quick" and idle.n_chunks == 2


def test_usage_count_with_the_eos_token_is_timed_to_the_finish_chunk(
    fault_records: dict[str, Record],
) -> None:
    r = fault_records["eos"]
    assert r.status == "ok" and r.n_chunks == 12 and r.completion_tokens == 13  # 12 visible + EOS
    assert r.ttft_ms is not None and r.e2e_ms is not None and r.decode_tps is not None
    last_content_ms = r.ttft_ms + sum(r.itl_ms)
    assert r.e2e_ms - last_content_ms >= 45  # the window runs to the finish chunk, not the last text
    assert r.decode_tps == pytest.approx(12 / ((r.e2e_ms - r.ttft_ms) / 1e3))


def test_no_request_is_lost(fault_records: dict[str, Record]) -> None:
    assert len(fault_records) == 16
    assert all(r.status in ("ok", "error", "timeout") for r in fault_records.values())


def test_refused_key_stops_the_run_with_exit_4_and_no_retry(
    fake_server: ServerThread, tmp_path: Path
) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(
        'name = "s"\n'
        '[[tasks]]\nid = "a"\nmessages = [{ role = "user", content = "hello" }]\ncheck = { type = "none" }\n'
        '[[tasks]]\nid = "b"\nmessages = [{ role = "user", content = "scenario=401" }]\ncheck = { type = "none" }\n'
        '[[tasks]]\nid = "c"\nmessages = [{ role = "user", content = "never sent" }]\ncheck = { type = "none" }\n'
    )
    device = write_profile(
        tmp_path / "d.toml", fake_server.base_url, top='api_key_env = "FAKE_KEY_401"', **FAST
    )
    before = len(fake_server.app.requests)
    env_key = "sk-test-0123456789abcdef"
    proc = _run_with_env(
        {"FAKE_KEY_401": env_key}, "--device", str(device), "--suite", str(suite), "--out", str(tmp_path)
    )
    assert proc.returncode == 4, proc.stderr
    assert "refused the key from $FAKE_KEY_401" in proc.stderr and "HTTP 401" in proc.stderr
    assert env_key not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    sent = [r for r in fake_server.app.requests[before:]]
    assert sum("scenario=401" in json.dumps(r) for r in sent) == 1  # no retry storm
    assert not any("never sent" in json.dumps(r) for r in sent)
    bundle = read_bundle(next(tmp_path.glob("*/manifest.json")).parent)
    assert not bundle.manifest.complete
    assert [r.task_id for r in bundle.records] == ["a", "b"] and bundle.records[1].status == "error"


def _run_with_env(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bench", "run", "-r", "1", "-w", "0", *args],
        cwd=ROOT, env=full, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_unreachable_endpoint_fails_before_anything_is_timed(tmp_path: Path) -> None:
    device = write_profile(tmp_path / "d.toml", f"http://127.0.0.1:{free_port()}/v1", **FAST)
    t0 = time.monotonic()
    proc = run_cli("run", "--device", str(device), "--suite", MINI, "--out", str(tmp_path / "runs"))
    assert proc.returncode == 4, proc.stderr
    assert "unreachable" in proc.stderr and "--base-url" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - t0 < 30
    assert not list((tmp_path / "runs").glob("*/manifest.json"))  # nothing was written


def test_missing_key_variable_is_named(fake_server: ServerThread, tmp_path: Path) -> None:
    device = write_profile(
        tmp_path / "d.toml", fake_server.base_url, top='api_key_env = "INFERCOST_NO_SUCH_KEY"'
    )
    proc = run_cli("run", "--device", str(device), "--suite", MINI, "--out", str(tmp_path))
    assert proc.returncode == 4 and "INFERCOST_NO_SUCH_KEY is not set" in proc.stderr


def test_bad_base_url_flag_is_a_usage_error(fake_server: ServerThread, tmp_path: Path) -> None:
    device = write_profile(tmp_path / "d.toml", fake_server.base_url)
    for url, needle in (("ftp://x/v1", "not an http(s) URL"), ("http://u:p@127.0.0.1/v1", "credential")):
        proc = run_cli(
            "run", "--device", str(device), "--suite", MINI, "--base-url", url, "--out", str(tmp_path)
        )
        assert proc.returncode == 2 and needle in proc.stderr and "u:p" not in proc.stderr
    proc = run_cli("run", "--suite", MINI, "--base-url", fake_server.base_url, "--out", str(tmp_path))
    assert proc.returncode == 2 and "runs in-process" in proc.stderr


def test_endpoint_that_dies_mid_run_stops_the_run(tmp_path: Path) -> None:
    server = ServerThread()
    device = write_profile(tmp_path / "d.toml", server.base_url, **FAST)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--device", str(device), "--suite", MINI, "-r", "200", "-w", "0",
         "--out", str(tmp_path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(server.app.requests) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop()  # the port now refuses connections
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 4, err
    assert "stopped answering" in err
    bundle = read_bundle(next(tmp_path.glob("*/manifest.json")).parent)
    errors = [r for r in bundle.records if r.status != "ok"]
    assert 1 <= len(errors) <= 3 and all(r.retries for r in errors[:-1])
