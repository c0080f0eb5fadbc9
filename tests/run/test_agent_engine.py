"""Agent tasks on the real engine (SmolLM2-135M, in-process): KV prefix reuse, the automatic protocol
choice, an agent run end to end through the CLI, and trace replay reproducing recorded token counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.backends.base import ChatRequest
from bench.results.bundle import read_bundle
from bench.run.agent_protocol import to_text_protocol
from bench.suite.tools import openai_tools
from tests.helpers import run_cli

pytestmark = pytest.mark.engine

TOOLS = openai_tools(["read_file", "calculator"])
STEP1 = [{"role": "user", "content": "What is in config/settings.ini? Use a tool."}]
STEP2 = [
    *STEP1,
    {"role": "assistant", "content": '{"tool": "read_file", "arguments": {"path": "config/settings.ini"}}'},
    {
        "role": "tool",
        "name": "read_file",
        "tool_call_id": "c0",
        "content": "[client]\nretries = 4\ntimeout_s = 30",
    },
]


def _req(messages: list[dict[str, Any]], reuse: bool) -> ChatRequest:
    return ChatRequest(to_text_protocol(messages, TOOLS), None, max_tokens=6, reuse_prefix=reuse)


def test_smollm2_has_no_tools_template_so_text_protocol(llama_backend: Any) -> None:
    assert llama_backend.native_tools() is False


def test_prefix_reuse_prefills_only_the_suffix(llama_backend: Any) -> None:
    cold1 = llama_backend.chat(_req(STEP1, reuse=False))
    assert cold1.extra["cached_tokens"] == 0
    warm = llama_backend.chat(_req(STEP2, reuse=True))
    cached = warm.extra["cached_tokens"]
    assert cached >= cold1.prompt_tokens - 1  # the whole first prompt (at least) stayed in the cache
    assert warm.engine_timings["prompt_eval_tokens"] == warm.prompt_tokens - cached  # engine's own count
    cold2 = llama_backend.chat(_req(STEP2, reuse=False))
    assert (
        cold2.extra["cached_tokens"] == 0
        and cold2.engine_timings["prompt_eval_tokens"] == cold2.prompt_tokens
    )
    assert cold2.prompt_tokens == warm.prompt_tokens
    assert warm.text == cold2.text  # reusing the KV cache does not change what greedy decoding says


def test_divergent_prompt_is_trimmed_at_the_first_difference(llama_backend: Any) -> None:
    llama_backend.chat(_req(STEP2, reuse=False))
    other = [{"role": "user", "content": "What is in config/settings.ini? Use a calculator."}]
    ids_a, _ = llama_backend.render_messages(to_text_protocol(STEP2, TOOLS))
    ids_b, _ = llama_backend.render_messages(to_text_protocol(other, TOOLS))
    common = next(i for i, (a, b) in enumerate(zip(ids_a, ids_b, strict=False)) if a != b)
    gen = llama_backend.chat(_req(other, reuse=True))
    assert gen.extra["cached_tokens"] == common
    assert gen.engine_timings["prompt_eval_tokens"] == gen.prompt_tokens - common


def test_single_requests_still_start_cold(llama_backend: Any) -> None:
    from bench.suite.loader import Task

    task = Task.model_validate(
        {"id": "x", "messages": STEP1, "max_tokens": 2, "check": {"type": "none"}, "prompt": None}
    )
    llama_backend.chat(_req(STEP1, reuse=False))
    gen = llama_backend.generate(task)
    assert gen.engine_timings["prompt_eval_tokens"] == gen.prompt_tokens


def _mini_suite(tmp_path: Path) -> Path:
    path = tmp_path / "agent-mini.toml"
    path.write_text(
        'name = "agent-mini"\n[[tasks]]\nid = "wait"\ncategory = "lookup-compute"\n'
        'messages = [{ role = "user", content = "Read config/settings.ini with a tool and give retries times timeout_s." }]\n'
        'check = { type = "number", value = 120 }\n'
        'agent = { tools = ["read_file", "calculator"], max_steps = 3, max_tokens_per_call = 24 }\n'
    )
    return path


def test_agent_run_end_to_end_and_trace_replay(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    done = run_cli(
        "run",
        "--suite",
        str(_mini_suite(tmp_path)),
        "-r",
        "1",
        "-w",
        "0",
        "--out",
        str(out),
        "--power",
        "none",
        "--json",
    )
    assert done.returncode in (0, 3), done.stderr
    bundle = read_bundle(next(out.iterdir()))
    assert bundle.manifest.backend.agent_protocol == "text_json"
    assert bundle.manifest.settings.prefix_cache is True
    kinds = [r.kind for r in bundle.records]
    assert kinds[-1] == "agent" and "model" in kinds
    summary = bundle.records[-1]
    assert summary.stop_reason in ("answer", "max_steps", "token_budget")
    assert summary.harness_s is not None and summary.harness_s >= 0
    doc = json.loads(done.stdout)
    assert doc["overall"]["steps_mean"] == summary.steps
    assert doc["overall"]["n"] == 1  # one agent task, counted once
    trace = bundle.path / "trace.jsonl"
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    assert len(lines) == summary.steps
    # replay open-loop on the in-process backend: every step's recorded token counts, exactly
    replay_out = tmp_path / "replay"
    rep = run_cli(
        "run",
        "--trace",
        str(trace),
        "-r",
        "1",
        "-w",
        "0",
        "--out",
        str(replay_out),
        "--power",
        "none",
        "--json",
    )
    assert rep.returncode == 0, rep.stderr
    replayed = [r for r in read_bundle(next(replay_out.iterdir())).records if r.kind == "model"]
    assert [(r.prompt_tokens, r.completion_tokens) for r in replayed] == [
        (x["usage"]["prompt_tokens"], x["usage"]["completion_tokens"]) for x in lines
    ]


@pytest.mark.parametrize("protocol", ["native", "text"])
def test_agent_run_through_llama_cpp_server(llama_server: str, tmp_path: Path, protocol: str) -> None:
    """llama_cpp.server takes ``tools`` but SmolLM2's template ignores them, so natively the model never
    sees the tools (and answers in text); ``--agent-protocol text`` describes them in the prompt."""
    from tests.helpers.http import write_profile

    profile = write_profile(tmp_path / "p.toml", llama_server, model="smollm2")
    out = tmp_path / "runs"
    done = run_cli("run", "--device", str(profile), "--suite", str(_mini_suite(tmp_path)), "-r", "1", "-w", "0",
                   "--out", str(out), "--power", "none", "--agent-protocol", protocol)  # fmt: skip
    assert done.returncode in (0, 3), done.stderr
    bundle = read_bundle(next(out.iterdir()))
    assert bundle.manifest.backend.agent_protocol == ("native_tools" if protocol == "native" else "text_json")
    summary = bundle.records[-1]
    assert summary.kind == "agent" and summary.steps and summary.harness_s is not None
    model = [r for r in bundle.records if r.kind == "model"]
    assert all(r.completion_tokens for r in model)
