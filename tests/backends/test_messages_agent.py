"""Claude as billed: ``--suite agent`` on the shipped Sonnet 4.5 profile, pointed at the fake Messages server.

The records must show what a real Claude agent pays: cache writes on each task's first step, reads after,
and a $/agent task equal to the bill computed by hand from the fake server's own usage numbers and the
profile's prices; with ``--prefix-cache off`` no breakpoint is sent, and the same token work costs what
Anthropic's OpenAI-compatible endpoint (which ignores breakpoints) would bill. Then the 1-hour TTL, the
trace replay of the run, thinking inside a tool-use loop, a BFCL multi-turn subset, and the documented
minimum cacheable length.

The shipped agent suite's first prompt is about 700 tokens (its tools, the tool-use system prompt, the
question), under Sonnet 4.5's documented 1,024-token minimum: a real agent's system prompt is far longer.
So the run that shows caching lowers the fake's minimum to 256 tokens; ``test_below_the_minimum...`` keeps
the documented one and shows that nothing is cached then.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.cost.enrich import enrich
from bench.results.bundle import Bundle, read_bundle
from bench.results.schema import Record
from bench.suite.loader import load_suite, resolve_suite_path
from tests.helpers import run_cli
from tests.helpers.http import write_profile
from tests.servers.fake_anthropic import messages_server
from tests.servers.fake_openai import ServerThread

KEY = "sk-ant-api03-agent-key-abcdef0123456789"
SONNET = "anthropic-claude-sonnet-4.5"
# the Sonnet 4.5 profile's prices, USD per 1M tokens (devices/anthropic-claude-sonnet-4.5.toml)
PRICE = {"input": 3.0, "output": 15.0, "read": 0.30, "write_5m": 3.75, "write_1h": 6.00}
ONE_TASK = (
    'name = "one"\n[[tasks]]\nid = "calc"\n'
    'messages = [{ role = "user", content = "What is 6*7? Use the tools, then answer with the number." }]\n'
    'check = { type = "number", value = 42 }\nagent = { tools = ["calculator", "list_files"], max_steps = 4 }\n'
)


def hand_bill(usage: dict[str, Any]) -> float:
    """One answer's bill from the fake's own usage numbers (not infercost's reading of them)."""
    split = usage["cache_creation"]
    return (
        usage["input_tokens"] * PRICE["input"]
        + split["ephemeral_5m_input_tokens"] * PRICE["write_5m"]
        + split["ephemeral_1h_input_tokens"] * PRICE["write_1h"]
        + usage["cache_read_input_tokens"] * PRICE["read"]
        + usage["output_tokens"] * PRICE["output"]
    ) / 1e6


def run(server: ServerThread, out: Path, *flags: str, device: str = SONNET, suite: str = "agent") -> Bundle:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANTHROPIC_API_KEY", KEY)
        proc = run_cli("run", "--device", device, "--base-url", f"http://127.0.0.1:{server.port}/v1", "--suite",
                       suite, "-r", "1", "-w", "0", "--out", str(out), "--power", "none", *flags, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert KEY not in proc.stdout + proc.stderr
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return read_bundle(run_dir)


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bundle, list[dict[str, Any]]]]:
    server = messages_server(key=KEY, min_cacheable_tokens=256)
    try:
        bundle = run(server, tmp_path_factory.mktemp("cached"))
        yield bundle, list(server.app.usages)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def uncached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bundle, list[dict[str, Any]]]]:
    server = messages_server(key=KEY, min_cacheable_tokens=256)
    try:
        bundle = run(server, tmp_path_factory.mktemp("uncached"), "--prefix-cache", "off")
        yield bundle, list(server.app.usages)
    finally:
        server.stop()


def _calls(records: list[Record]) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for r in records:
        if r.kind == "model":
            out.setdefault(r.task_id, []).append(r)
    return out


def test_cache_writes_on_the_first_step_and_reads_after(cached: tuple[Bundle, list[dict[str, Any]]]) -> None:
    bundle, _ = cached
    assert bundle.manifest.backend.name == "anthropic_messages"
    assert bundle.manifest.device.http["prompt_cache"] == "5m" and bundle.manifest.settings.prefix_cache
    calls = _calls(bundle.records)
    tasks = load_suite(resolve_suite_path("agent")).tasks
    assert list(calls) == [t.id for t in tasks]
    seen: set[tuple[str, ...]] = set()
    for task in tasks:
        steps = calls[task.id]
        assert all(r.status == "ok" for r in steps), task.id
        assert steps[0].cache_write_tokens, task.id  # the first step writes its prompt ...
        assert task.agent is not None
        tools = tuple(task.agent.tools)
        # ... reading nothing, unless an earlier task's tools begin this task's: those definitions are cached
        assert bool(steps[0].cached_tokens) == any(tools[: len(s)] == s for s in seen), task.id
        seen.add(tools)
        for earlier, later in itertools.pairwise(steps):  # then each step reads all that was cached before
            assert later.cached_tokens == (earlier.cached_tokens or 0) + (earlier.cache_write_tokens or 0)
            assert later.cache_write_tokens, task.id  # and writes the turns that are new
        assert all(r.cache_write_1h_tokens == 0 for r in steps)
    summaries = [r for r in bundle.records if r.kind == "agent"]
    assert all(s.prefix_hit_ratio and 0.3 < s.prefix_hit_ratio < 1 for s in summaries)
    assert all(s.cache_write_tokens and s.cached_tokens for s in summaries)


def test_agent_task_bill_equals_the_hand_computed_bill(cached: tuple[Bundle, list[dict[str, Any]]]) -> None:
    bundle, usages = cached
    priced = enrich(bundle)
    models = [r for r in priced if r.kind == "model"]
    assert len(models) == len(usages)  # the fake answered exactly the measured calls, in order
    for r, u in zip(models, usages, strict=True):
        assert r.cost_usd == pytest.approx(hand_bill(u), abs=1e-12)
    by_task: dict[str, float] = {}
    for r, u in zip(models, usages, strict=True):
        by_task[r.task_id] = by_task.get(r.task_id, 0.0) + hand_bill(u)
    for s in (r for r in priced if r.kind == "agent"):
        assert s.cost_usd is not None and s.cost_source == "tokens"
        assert round(s.cost_usd, 2) == round(by_task[s.task_id], 2)  # to the cent ...
        assert s.cost_usd == pytest.approx(by_task[s.task_id], rel=1e-9)  # ... and closer


def test_prefix_cache_off_costs_what_the_compatible_endpoint_would(
    cached: tuple[Bundle, list[dict[str, Any]]], uncached: tuple[Bundle, list[dict[str, Any]]]
) -> None:
    off, usages = uncached
    assert off.manifest.device.http["prompt_cache"] == "off" and off.manifest.settings.prefix_cache is False
    assert all(u["cache_read_input_tokens"] == 0 and u["cache_creation_input_tokens"] == 0 for u in usages)
    on_calls, off_calls = _calls(cached[0].records), _calls(off.records)
    # the same token work: each step's whole prompt is the same size with or without breakpoints
    assert {t: [r.prompt_tokens for r in s] for t, s in on_calls.items()} == {
        t: [r.prompt_tokens for r in s] for t, s in off_calls.items()
    }
    on_priced, off_priced = enrich(cached[0]), enrich(off)

    def per_task(records: list[Record]) -> dict[str, float]:
        return {r.task_id: r.cost_usd or 0.0 for r in records if r.kind == "agent"}

    # the compatible endpoint bills every prompt token at the input price
    compat = {
        task: sum(((r.prompt_tokens or 0) * PRICE["input"] + (r.completion_tokens or 0) * PRICE["output"]) / 1e6
                  for r in steps)
        for task, steps in on_calls.items()
    }  # fmt: skip
    assert per_task(off_priced) == pytest.approx(compat, rel=1e-9)
    on, off_total = sum(per_task(on_priced).values()), sum(per_task(off_priced).values())
    assert on < off_total  # what caching saves, measured


def test_one_hour_ttl_is_recorded_and_billed_at_its_tier(tmp_path: Path) -> None:
    suite = tmp_path / "one.toml"
    suite.write_text(ONE_TASK)
    server = messages_server(key=KEY, min_cacheable_tokens=256)
    try:
        bundle = run(server, tmp_path / "runs", "--cache-ttl", "1h", suite=str(suite))
        usages = server.app.usages
        sent = server.app.requests
    finally:
        server.stop()
    assert bundle.manifest.settings.cache_ttl == "1h" and bundle.manifest.device.http["prompt_cache"] == "1h"
    marks = [b["cache_control"] for req in sent for b in req["tools"] + req["messages"][-1]["content"]
             if "cache_control" in b]  # fmt: skip
    assert marks and all(m == {"type": "ephemeral", "ttl": "1h"} for m in marks)
    steps = _calls(bundle.records)["calc"]
    assert all(r.cache_write_1h_tokens == r.cache_write_tokens and r.cache_write_tokens for r in steps)
    summary = next(r for r in enrich(bundle) if r.kind == "agent")
    assert summary.cost_usd == pytest.approx(sum(hand_bill(u) for u in usages), rel=1e-9)


def test_trace_replay_carries_breakpoints_too(
    cached: tuple[Bundle, list[dict[str, Any]]], tmp_path: Path
) -> None:
    server = messages_server(key=KEY, min_cacheable_tokens=256)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("ANTHROPIC_API_KEY", KEY)
            proc = run_cli("run", "--device", SONNET, "--base-url", f"http://127.0.0.1:{server.port}/v1",
                           "--trace", str(cached[0].path / "trace.jsonl"), "-r", "1", "-w", "0", "--out",
                           str(tmp_path), "--power", "none", timeout=300)  # fmt: skip
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    replayed = _calls(read_bundle(run_dir).records)
    original = _calls(cached[0].records)

    def tiers(calls: dict[str, list[Record]], suffix: str) -> dict[str, list[tuple[int, int, int]]]:
        return {
            t.removesuffix(suffix): [
                (r.prompt_tokens or 0, r.cached_tokens or 0, r.cache_write_tokens or 0) for r in s
            ]
            for t, s in calls.items()
        }

    # the same prompts, translated and marked the same way: the same writes and reads, step by step
    assert tiers(replayed, ".r0") == tiers(original, "")
    assert all(s[1][1] > 0 for s in tiers(replayed, ".r0").values())


def test_thinking_in_a_tool_use_loop(tmp_path: Path) -> None:
    server = messages_server(key=KEY, min_cacheable_tokens=256)
    suite = tmp_path / "one.toml"
    suite.write_text(ONE_TASK)
    profile = write_profile(tmp_path / "claude.toml", f"http://127.0.0.1:{server.port}/v1", model="claude-sonnet-4-5",
                            top='api_key_env = "ANTHROPIC_API_KEY"', backend="anthropic_messages",
                            thinking_budget_tokens=1024)  # fmt: skip
    try:
        bundle = run(server, tmp_path / "runs", device=str(profile), suite=str(suite))
        sent = server.app.requests
    finally:
        server.stop()
    steps = _calls(bundle.records)["calc"]
    # every step thought first (the fake refuses a tool-use turn sent back without its signed thinking)
    assert [r.status for r in steps] == ["ok", "ok", "ok"] and all(r.reasoning_tokens == 4 for r in steps)
    assert all(r.ttft_thinking_ms is not None for r in steps)
    answer = steps[-1]
    assert answer.output_text == "The answer is 42." and answer.completion_tokens == 4  # thinking kept apart
    assert answer.ttft_thinking_ms is not None and answer.ttft_ms is not None
    assert answer.ttft_thinking_ms <= answer.ttft_ms
    assert sent[1]["messages"][1]["content"][0]["type"] == "thinking" and "temperature" not in sent[1]
    summary = next(r for r in bundle.records if r.kind == "agent")
    assert summary.passed and summary.reasoning_tokens == 12


def test_bfcl_multi_turn_caches_at_the_documented_minimum(tmp_path: Path) -> None:
    """BFCL's multi-turn prompts (function docs of its API classes) are past Sonnet 4.5's documented
    1,024-token minimum on their own: no lowered minimum here."""
    server = messages_server(key=KEY)
    try:
        bundle = run(server, tmp_path, "--sample", "2", "--seed", "3", suite="bfcl-multi_turn_base")
        usages = list(server.app.usages)
    finally:
        server.stop()
    calls = _calls(bundle.records)
    assert len(calls) == 2
    for task, steps in calls.items():
        assert len(steps) > 2 and all(r.status == "ok" for r in steps), task
        assert steps[0].cache_write_tokens and steps[0].cache_write_tokens > 1024, task
        for earlier, later in itertools.pairwise(steps):
            assert later.cached_tokens == (earlier.cached_tokens or 0) + (earlier.cache_write_tokens or 0)
    priced = enrich(bundle)
    models = [r for r in priced if r.kind == "model"]
    for r, u in zip(models, usages, strict=True):
        assert r.cost_usd == pytest.approx(hand_bill(u), abs=1e-12)
    for s in (r for r in priced if r.kind == "agent"):
        bill = sum(hand_bill(u) for r, u in zip(models, usages, strict=True) if r.task_id == s.task_id)
        assert s.cost_usd == pytest.approx(bill, rel=1e-9) and round(s.cost_usd, 2) == round(bill, 2)


def test_below_the_minimum_cacheable_length_nothing_is_cached(tmp_path: Path) -> None:
    suite = tmp_path / "one.toml"
    suite.write_text(ONE_TASK)
    server = messages_server(key=KEY)  # the documented minimum: 4,096 tokens for Claude Haiku 4.5
    try:
        bundle = run(server, tmp_path / "runs", device="anthropic-claude-haiku-4.5", suite=str(suite))
        marked = sum('"cache_control"' in json.dumps(r) for r in server.app.requests)
    finally:
        server.stop()
    assert marked == 3  # breakpoints were sent on every step ...
    steps = _calls(bundle.records)["calc"]
    assert all(r.cached_tokens == 0 and r.cache_write_tokens == 0 for r in steps)  # ... and nothing cached


def test_cache_ttl_needs_the_native_backend(tmp_path: Path) -> None:
    proc = run_cli("run", "--device", "openai-gpt-4o-mini", "--cache-ttl", "1h", "--suite", "agent", "--out",
                   str(tmp_path))  # fmt: skip
    assert proc.returncode == 2 and "--cache-ttl" in proc.stderr and "Traceback" not in proc.stderr


def test_breakeven_shows_the_measured_cache_hit_rate(fake_server: ServerThread, tmp_path: Path) -> None:
    """A local agent run (an OpenAI-format server on local hardware) against the same suite measured on
    Claude: the measured row is priced as billed and says its cache hit rate."""
    suite = tmp_path / "one.toml"  # scenario=tools drives the OpenAI fake; the Messages fake ignores it
    suite.write_text(ONE_TASK.replace('content = "What', 'content = "scenario=tools What'))
    local = write_profile(
        tmp_path / "local.toml", fake_server.base_url, top="lifetime_years = 3\nutilization = 0.5"
    )
    proc = run_cli("run", "--device", str(local), "--suite", str(suite), "-r", "2", "-w", "0", "--out",
                   str(tmp_path / "local"), "--power", "none")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    server = messages_server(key=KEY, min_cacheable_tokens=256)
    try:
        claude = run(server, tmp_path / "claude", suite=str(suite))
    finally:
        server.stop()
    (local_dir,) = (tmp_path / "local").iterdir()
    proc = run_cli("breakeven", str(local_dir), "--cloud-run", str(claude.path), "--cloud", SONNET,
                   "--hardware-usd", "600", "--kwh-usd", "0.2", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = {c["profile"]: c for c in json.loads(proc.stdout)["clouds"]}
    measured = rows[f"{SONNET} (measured)"]
    calls = [r for r in claude.records if r.kind == "model"]
    hit = sum(r.cached_tokens or 0 for r in calls) / sum(r.prompt_tokens or 0 for r in calls)
    assert measured["basis"] == "measured" and measured["cache_hit_rate"] == pytest.approx(hit) and hit > 0.3
    tasks = [r for r in enrich(claude) if r.kind == "agent"]
    assert measured["usd_per_task"] == pytest.approx(sum(r.cost_usd or 0 for r in tasks) / len(tasks))
    assert f"cache hit rate {hit:.0%} of input" in measured["text"]
    assert rows[SONNET]["basis"] == "priced, not run"  # the estimate stays beside it
    other = tmp_path / "other.toml"
    other.write_text(ONE_TASK.replace("6*7", "6*8"))
    mismatch = run_cli("run", "--device", str(local), "--suite", str(other), "-r", "1", "-w", "0", "--out",
                       str(tmp_path / "other"), "--power", "none")  # fmt: skip
    assert mismatch.returncode == 0, mismatch.stderr
    (other_dir,) = (tmp_path / "other").iterdir()
    refused = run_cli("breakeven", str(other_dir), "--cloud-run", str(claude.path), "--cloud", SONNET,
                      "--hardware-usd", "600", "--kwh-usd", "0.2")  # fmt: skip
    assert refused.returncode == 2 and "differs from the local run's" in refused.stderr
