"""Cache busting as the default over HTTP (issue 20, part 8): what each kind of run sends.

Against the fake server, which records every request body: a single-shot run gives every request its
own prefix, slot by slot; an agent run one prefix per attempt, shared by the attempt's steps; a trace
replay one per replayed attempt, replacing the one the original left. ``--warm-cache`` sends prompts as
written and is refused where there is no prompt cache to measure.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench.errors import UsageError
from bench.results.bundle import read_bundle
from bench.run.cachebust import bust_messages, bust_prefix, slot_index
from bench.run.orchestrate import RunOptions, prepare_run
from tests.helpers import run_cli
from tests.helpers.http import write_profile

NONCE = re.compile(r"^\[[0-9a-f]{8}\] ")
AGENT = (
    '[[tasks]]\nid = "calc"\nmessages = [{ role = "user", content = "scenario=tools-billed 6*7?" }]\n'
    'check = { type = "number", value = 42 }\nagent = { tools = ["calculator"], max_steps = 4 }\n'
)


def _first_contents(requests: list[dict[str, Any]]) -> list[str]:
    return [r["messages"][0]["content"] for r in requests]


def _run(*args: str) -> None:
    done = run_cli("run", *args, "--power", "none", timeout=120)
    assert done.returncode == 0, done.stderr


def test_slots_and_message_prefixes() -> None:
    assert [slot_index(1, r, w) for r, w in ((0, True), (0, False), (1, False))] == [0, 1, 2]
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    once = bust_messages(msgs, bust_prefix(1, "t", 0))
    again = bust_messages(once, bust_prefix(2, "t", 0))
    assert once[0]["content"] == bust_prefix(1, "t", 0) + "hi" and once[1] is msgs[1]
    assert again[0]["content"] == bust_prefix(2, "t", 0) + "hi"  # replaced, not stacked
    assert msgs[0]["content"] == "hi"  # the trace's own messages are not changed


def test_single_requests_each_get_their_own_prefix_by_default(fake_server: Any, tmp_path: Path) -> None:
    profile = write_profile(tmp_path / "p.toml", fake_server.base_url)
    suite = tmp_path / "s.toml"
    suite.write_text(
        '[[tasks]]\nid = "a"\nmessages = [{ role = "user", content = "same words" }]\ncheck = { type = "none" }\n'
    )
    before = len(fake_server.app.requests)
    _run(
        "--device",
        str(profile),
        "--suite",
        str(suite),
        "-r",
        "2",
        "-w",
        "1",
        "--seed",
        "7",
        "--out",
        str(tmp_path / "d"),
    )
    sent = _first_contents(fake_server.app.requests[before:])
    assert sent == [bust_prefix(7, "a", i) + "same words" for i in range(3)]  # warmup, rep 0, rep 1
    (run_dir,) = (tmp_path / "d").iterdir()
    m = read_bundle(run_dir).manifest
    assert m.settings.cache_bust is True and m.settings.warm_cache is False
    assert m.backend.settings.cache_bust is True  # runs with and without never pool

    before = len(fake_server.app.requests)
    _run(
        "--device",
        str(profile),
        "--suite",
        str(suite),
        "-r",
        "2",
        "-w",
        "1",
        "--warm-cache",
        "--out",
        str(tmp_path / "w"),
    )
    assert _first_contents(fake_server.app.requests[before:]) == ["same words"] * 3
    (run_dir,) = (tmp_path / "w").iterdir()
    m = read_bundle(run_dir).manifest
    assert m.settings.cache_bust is False and m.settings.warm_cache is True


def test_agent_attempts_and_trace_replays_are_busted_once_each(fake_server: Any, tmp_path: Path) -> None:
    profile = write_profile(tmp_path / "p.toml", fake_server.base_url)
    suite = tmp_path / "agent.toml"
    suite.write_text(AGENT)
    before = len(fake_server.app.requests)
    _run(
        "--device",
        str(profile),
        "--suite",
        str(suite),
        "-r",
        "2",
        "-w",
        "0",
        "--seed",
        "3",
        "--out",
        str(tmp_path / "a"),
    )
    sent = _first_contents(fake_server.app.requests[before:])
    # two attempts of two steps: each attempt's steps share its prefix, the attempts differ
    assert sent == [bust_prefix(3, "calc", i) + "scenario=tools-billed 6*7?" for i in (0, 0, 1, 1)]
    (run_dir,) = (tmp_path / "a").iterdir()
    trace = run_dir / "trace.jsonl"
    assert [
        json.loads(x)["request"]["messages"][0]["content"] for x in trace.read_text().splitlines()
    ] == sent

    before = len(fake_server.app.requests)
    _run(
        "--trace",
        str(trace),
        "--device",
        str(profile),
        "-r",
        "1",
        "-w",
        "0",
        "--seed",
        "5",
        "--out",
        str(tmp_path / "r"),
    )
    replayed = _first_contents(fake_server.app.requests[before:])
    expected = [bust_prefix(5, f"calc.r{rep}", 0) for rep in (0, 0, 1, 1)]
    assert [c[:11] for c in replayed] == expected
    assert all(NONCE.sub("", c) == "scenario=tools-billed 6*7?" for c in replayed)  # one prefix, not two


def test_warm_cache_needs_a_server_and_excludes_cache_bust(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="clears its KV cache before every request"):
        prepare_run(RunOptions(suite="default", warm_cache=True, out=tmp_path))
    profile = write_profile(tmp_path / "p.toml", "http://127.0.0.1:9/v1")
    with pytest.raises(UsageError, match="contradict"):
        prepare_run(RunOptions(device=str(profile), warm_cache=True, cache_bust=True, out=tmp_path))
    assert prepare_run(RunOptions(device=str(profile), out=tmp_path)).options.cache_bust is True
    assert prepare_run(RunOptions(suite="default", out=tmp_path)).options.cache_bust is False  # in-process
    # every HTTP wire format busts by default and may measure a warm cache, the native Messages API too
    messages = write_profile(tmp_path / "m.toml", "http://127.0.0.1:9", backend="anthropic_messages")
    assert prepare_run(RunOptions(device=str(messages), out=tmp_path)).options.cache_bust is True
    warm = prepare_run(RunOptions(device=str(messages), warm_cache=True, out=tmp_path))
    assert warm.options.cache_bust is False
    done = run_cli("run", "--device", str(profile), "--cache-bust", "--warm-cache", timeout=60)
    assert done.returncode == 2 and "not allowed with argument" in done.stderr
