"""A replay of an agent trace against the same priced endpoint costs what the original run cost.

The loop runs an agent task against the fake OpenAI-compatible server (scenario ``tools-billed``: usage
with cache reads, cache writes and hidden reasoning tokens, depending only on the conversation), priced
as a cloud API that bills every tier; ``run --trace`` then replays the run's ``trace.jsonl`` against the
same endpoint. Both bundles go through the same reader (``enrich``, ``summarize``): each replayed attempt
must carry the same tokens by tier as the attempt it replays, and cost the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cost.enrich import enrich
from bench.report.summary import summarize
from bench.results.bundle import read_bundle
from bench.results.schema import Record
from tests.helpers import run_cli

TIERS = (
    "prompt_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "input_fresh_tokens",
    "completion_tokens",
    "reasoning_tokens",
)


def _priced_profile(path: Path, base_url: str) -> Path:
    path.write_text(
        "\n".join(
            [
                'name = "priced fake endpoint"',
                'kind = "cloud"',
                'backend = "openai_http"',
                'provider = "openai"',
                f'base_url = "{base_url}"',
                'model = "fake-model"',
                "input_usd_per_mtok = 3.0",
                "output_usd_per_mtok = 15.0",
                "cached_input_usd_per_mtok = 0.3",
                "cache_write_usd_per_mtok = 3.75",
                "as_of = 2026-08-05",
                'source = "test prices"',
                "tiers_as_of = 2026-08-05",
                'tiers_source = "test prices"',
            ]
        )
        + "\n"
    )
    return path


def _run(*args: str) -> None:
    done = run_cli("run", *args, "-w", "0", "--power", "none", timeout=120)
    assert done.returncode == 0, done.stderr


def _summaries(run_dir: Path) -> tuple[list[Record], dict[str, Any]]:
    bundle = read_bundle(run_dir)
    priced = enrich(bundle)
    summary = summarize(priced, bundle.manifest, run_dir=str(run_dir))
    return [r for r in priced if r.kind == "agent" and not r.warmup], summary


def test_trace_replay_costs_what_the_original_run_cost(fake_server: Any, tmp_path: Path) -> None:
    profile = _priced_profile(tmp_path / "priced.toml", fake_server.base_url)
    suite = tmp_path / "agent.toml"
    suite.write_text(
        '[[tasks]]\nid = "calc"\nmessages = [{ role = "user", content = "scenario=tools-billed 6*7?" }]\n'
        'check = { type = "number", value = 42 }\nagent = { tools = ["calculator"], max_steps = 4 }\n'
    )
    _run("--device", str(profile), "--suite", str(suite), "-r", "2", "--out", str(tmp_path / "original"))
    (original_dir,) = (tmp_path / "original").iterdir()
    trace = original_dir / "trace.jsonl"
    usage = [json.loads(line)["usage"] for line in trace.read_text().splitlines()]
    # the trace keeps usage as OpenAI reports it: reasoning inside completion_tokens, the writes beside
    assert usage[0]["completion_tokens"] == 12 + 9 and usage[0]["completion_tokens_details"] == {
        "reasoning_tokens": 9
    }
    assert usage[1]["cache_creation_input_tokens"] == 25

    _run("--trace", str(trace), "--device", str(profile), "-r", "1", "--out", str(tmp_path / "replay"))
    (replay_dir,) = (tmp_path / "replay").iterdir()

    original, original_summary = _summaries(original_dir)
    replayed, replay_summary = _summaries(replay_dir)
    assert [r.task_id for r in replayed] == ["calc.r0", "calc.r1"]
    for before, after in zip(original, replayed, strict=True):
        # every billed tier was present, so a replay that dropped one would be cheaper
        assert before.reasoning_tokens and before.cache_write_tokens and before.cached_tokens
        assert {k: getattr(after, k) for k in TIERS} == {k: getattr(before, k) for k in TIERS}
        assert before.cost_source == after.cost_source == "tokens"
        assert after.cost_usd == pytest.approx(before.cost_usd, rel=1e-12)
        assert after.model_calls == before.model_calls == 2
    # and the run's figure a reader sees: dollars per task
    assert replay_summary["overall"]["cost_per_task_usd"] == pytest.approx(
        original_summary["overall"]["cost_per_task_usd"], rel=1e-12
    )
    assert original_summary["overall"]["cost_per_task_usd"] > 0
