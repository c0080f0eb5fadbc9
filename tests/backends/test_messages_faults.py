"""Faults of the native Messages backend, injected by the fake Messages server; the records must say so.

One CLI run walks every fault (one task per scenario, a key set): each ends as the record its kind calls
for, nothing is lost, and the key appears in no file of the bundle and nowhere in what the run printed.
Separate runs cover what stops a run before anything is timed (a refused key, an unknown model).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.results.bundle import read_bundle
from bench.results.schema import Record
from tests.helpers import run_cli
from tests.helpers.http import write_profile
from tests.servers.fake_anthropic import messages_server
from tests.servers.fake_openai import ServerThread

KEY = "sk-ant-api03-fault-key-0123456789abcdef"
FAST = {"max_retries": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "max_retry_wait_s": 5}
SCENARIOS = (
    "ok", "429", "429-long", "529", "overloaded-event", "error-midstream", "cut", "bad-tool-json", "400",
    "echo-key", "json",
)  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    s = messages_server(key=KEY)
    yield s
    s.stop()


def _profile(tmp: Path, server: ServerThread, model: str = "claude-haiku-4-5") -> Path:
    return write_profile(
        tmp / "claude.toml", f"http://127.0.0.1:{server.port}/v1", model=model,
        top='api_key_env = "FAKE_ANTHROPIC_KEY"', backend="anthropic_messages", **FAST,
    )  # fmt: skip


@pytest.fixture(scope="module")
def fault_run(
    server: ServerThread, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Record], Path, str]:
    tmp = tmp_path_factory.mktemp("messages-faults")
    suite = tmp / "faults.toml"
    suite.write_text(
        'name = "messages-faults"\n'
        + "".join(
            f'[[tasks]]\nid = "{s}"\nmax_tokens = 8\n'
            f'messages = [{{ role = "user", content = "scenario={s} Tell me a story." }}]\n'
            'check = { type = "none" }\n'
            for s in SCENARIOS
        )
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAKE_ANTHROPIC_KEY", KEY)
        t0 = time.monotonic()
        proc = run_cli("run", "--device", str(_profile(tmp, server)), "--suite", str(suite), "-r", "1", "-w", "0",
                       "--out", str(tmp / "runs"), "--power", "none", "--json")  # fmt: skip
    assert time.monotonic() - t0 < 90
    assert proc.returncode == 3, proc.stderr  # some requests errored; the run finished
    assert "Traceback" not in proc.stderr
    bundle = read_bundle(json.loads(proc.stdout)["run_dir"])
    assert bundle.manifest.complete and bundle.manifest.backend.name == "anthropic_messages"
    assert len(bundle.records) == len(SCENARIOS)  # nothing lost: one record per request
    return {r.task_id: r for r in bundle.records}, bundle.path, proc.stdout + proc.stderr


def test_a_clean_stream_is_measured(fault_run: tuple[dict[str, Record], Path, str]) -> None:
    r = fault_run[0]["ok"]
    assert r.status == "ok" and r.output_text == "The quick brown fox jumps over the lazy"
    assert r.finish_reason == "max_tokens" and r.completion_tokens == 8 and r.token_count_source == "usage"
    assert r.n_chunks == 8 and r.ttft_ms and r.e2e_ms and r.e2e_ms >= r.ttft_ms and r.http_status == 200
    assert (
        r.prompt_tokens and r.cached_tokens == 0 and r.cache_write_tokens == 0
    )  # single shot: no breakpoints
    assert r.server_model == "claude-haiku-4-5" and r.retries is None
    whole = fault_run[0]["json"]  # a server that answered the stream request with one Message
    assert whole.status == "ok" and whole.output_text == r.output_text


def test_rate_limits_and_overload_are_retried(fault_run: tuple[dict[str, Record], Path, str]) -> None:
    records = fault_run[0]
    r = records["429"]
    assert r.status == "ok" and r.retries is not None
    assert [(a["status"], a["retry_after_s"]) for a in r.retries] == [(429, 0.0), (429, 0.0)]
    assert "rate_limit_error: slow down" in r.retries[0]["reason"]
    over = records["529"]
    assert over.status == "ok" and over.retries and over.retries[0]["status"] == 529
    assert "overloaded_error" in over.retries[0]["reason"]
    event = records["overloaded-event"]  # an error event before any content: resent, like a 529
    assert event.status == "ok" and event.retries and event.retries[0]["status"] == 200
    assert event.retries[0]["reason"] == "stream error event: overloaded_error: Overloaded"
    long = records["429-long"]
    assert long.status == "error" and "Retry-After 3600 s exceeds the retry budget" in (long.error or "")


def test_faults_after_content_are_errors_holding_the_partial_answer(
    fault_run: tuple[dict[str, Record], Path, str],
) -> None:
    records = fault_run[0]
    mid = records["error-midstream"]
    assert mid.status == "error" and mid.error == "stream error event: api_error: Internal server error"
    assert mid.output_text == "The quick brown" and mid.n_chunks == 3 and mid.retries is not None
    assert len(mid.retries) == 1  # content had arrived: never resent (its tokens would count twice)
    cut = records["cut"]
    assert cut.status == "error" and "stream cut after 3 content chunks" in (cut.error or "")
    assert cut.output_text == "The quick brown"
    tool = records["bad-tool-json"]
    assert tool.status == "error" and "input_json_delta pieces are not valid JSON" in (tool.error or "")
    bad = records["400"]
    assert (
        bad.status == "error" and bad.error == "HTTP 400: invalid_request_error: messages.0: something is off"
    )
    assert bad.retries is not None and len(bad.retries) == 1  # a 400 is the request's own fault: not resent


def test_the_key_appears_nowhere(
    fault_run: tuple[dict[str, Record], Path, str], server: ServerThread
) -> None:
    records, run_dir, printed = fault_run
    assert KEY in server.app.seen_keys  # it was sent ...
    echoed = records["echo-key"]
    assert echoed.status == "error" and "bad request from key" in (echoed.error or "")
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in files) and any(p.name == "records.jsonl" for p in files)
    for path in files:  # ... and never written: every file of the bundle, the printed output
        assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in printed


def test_a_refused_key_stops_before_anything_is_timed(server: ServerThread, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAKE_ANTHROPIC_KEY", "sk-ant-wrong-key-999")
        proc = run_cli("run", "--device", str(_profile(tmp_path, server)), "--suite", "default", "-r", "1",
                       "-w", "0", "--out", str(tmp_path / "runs"), "--power", "none")  # fmt: skip
    assert proc.returncode == 4 and "refused" in proc.stderr and "Traceback" not in proc.stderr
    assert "sk-ant-wrong-key-999" not in proc.stderr + proc.stdout
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_unknown_model_is_a_usage_error(server: ServerThread, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAKE_ANTHROPIC_KEY", KEY)
        proc = run_cli("run", "--device", str(_profile(tmp_path, server, "claude-nonexistent-9")), "--suite",
                       "default", "-r", "1", "-w", "0", "--out", str(tmp_path / "runs"), "--power", "none")  # fmt: skip
    assert proc.returncode == 2 and "claude-nonexistent-9" in proc.stderr and "not_found_error" in proc.stderr
