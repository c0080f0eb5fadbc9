"""Real llama.cpp through the in-process backend: cache hygiene, shapes, errors, base models."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.backends.base import RequestFailed
from bench.results.bundle import BundleWriter, read_bundle
from bench.results.metrics import derive_timing
from bench.results.schema import Manifest
from bench.run.runner import Runner, RunSettings
from bench.suite.loader import PromptSuite, Task

pytestmark = pytest.mark.engine  # real llama.cpp: runs the bundled model

LONG_USER = (
    "Here is a list of words: " + ", ".join(f"word{i}" for i in range(120)) + ". Which word comes first?"
)


def task(**kw: object) -> Task:
    base: dict[str, object] = {"id": "t", "check": {"type": "none"}, "max_tokens": 8}
    base.update(kw)
    if "shape" not in kw and "prompt" not in kw and "messages" not in kw:
        base["messages"] = [{"role": "user", "content": LONG_USER}]
    if "shape" not in kw and base["check"] == {"type": "none"}:
        base["check"] = {"type": "contains", "values": ["word"]}
    return Task.model_validate(base)


def timing(gen):  # type: ignore[no-untyped-def]
    return derive_timing(
        gen.t_dispatch_ns, gen.content_ns, gen.t_end_ns, gen.completion_tokens, gen.prompt_tokens
    )


def test_kv_cache_is_cleared_so_a_repeated_prompt_is_fully_prefilled(llama_backend) -> None:  # type: ignore[no-untyped-def]
    t = task()
    first, second = llama_backend.generate(t), llama_backend.generate(t)
    assert first.prompt_tokens == second.prompt_tokens > 300
    # the engine evaluated every prompt token both times: nothing came from a cached prefix
    assert second.engine_timings["prompt_eval_tokens"] == second.prompt_tokens
    assert timing(second).ttft_ms > 0.5 * timing(first).ttft_ms
    assert first.text == second.text  # and the context did not leak into the answer


def test_the_trap_is_real_in_the_high_level_api(smollm2) -> None:  # type: ignore[no-untyped-def]
    """Control: llama-cpp-python's Llama reuses the cached prefix, so a repeated prompt is barely prefilled."""
    import llama_cpp

    llm = llama_cpp.Llama(str(smollm2.path), n_ctx=1024, n_threads=2, verbose=False)
    try:
        tokens = llm.tokenize(LONG_USER.encode())
        for _ in llm.generate(tokens, temp=0.0, reset=True):
            break
        llama_cpp.llama_perf_context_reset(llm.ctx)
        for _ in llm.generate(tokens, temp=0.0, reset=True):
            break
        reused = llama_cpp.llama_perf_context(llm.ctx).n_p_eval
    finally:
        llm.close()
    assert reused < len(tokens) // 2


@pytest.mark.parametrize(("prompt", "gen"), [(64, 1), (0, 16), (32, 8)])
def test_shapes_produce_exact_token_counts(llama_backend, prompt: int, gen: int) -> None:  # type: ignore[no-untyped-def]
    g = llama_backend.generate(
        task(shape={"prompt_tokens": prompt, "gen_tokens": gen}, check={"type": "none"})
    )
    assert g.prompt_tokens == max(prompt, 1)  # tg-only shapes start from BOS
    assert g.completion_tokens == gen  # EOS ignored
    assert g.token_count_source == "engine"
    m = timing(g)
    assert m.ttft_ms is not None and m.ttft_ms > 0
    assert (m.decode_tps is None) == (gen == 1)


def test_synthetic_prompt_is_seeded(llama_backend) -> None:  # type: ignore[no-untyped-def]
    assert llama_backend.synthetic_prompt(16, 1) == llama_backend.synthetic_prompt(16, 1)
    assert llama_backend.synthetic_prompt(16, 1) != llama_backend.synthetic_prompt(16, 2)


def test_context_overflow_fails_the_request(llama_backend) -> None:  # type: ignore[no-untyped-def]
    huge = task(messages=[{"role": "user", "content": "word " * 3000}])
    with pytest.raises(RequestFailed, match="context holds 2048"):
        llama_backend.generate(huge)


def test_temperature_sampling_is_seeded(llama_backend) -> None:  # type: ignore[no-untyped-def]
    t = task(
        messages=[{"role": "user", "content": "Tell me a story."}], temperature=1.0, seed=5, max_tokens=12
    )
    assert llama_backend.generate(t).text == llama_backend.generate(t).text


def _manifest(run_id: str) -> Manifest:
    return Manifest(
        tool_version="t",
        run_id=run_id,
        started_utc="x",
        anchor_perf_ns=0,
        host={},
        device={},
        backend={},
        suite={},
        settings={},
    )


def test_runner_records_an_error_and_goes_on(llama_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    suite = PromptSuite.model_validate(
        {
            "name": "s",
            "tasks": [
                {
                    "id": "too-long",
                    "messages": [{"role": "user", "content": "word " * 3000}],
                    "check": {"type": "contains", "values": ["x"]},
                },
                {
                    "id": "fine",
                    "prompt": "One, two, three,",
                    "max_tokens": 4,
                    "check": {"type": "regex", "pattern": "."},
                },
            ],
        }
    )
    writer = BundleWriter(tmp_path / "r", _manifest("r"))
    outcome = Runner(suite, llama_backend, writer, RunSettings(repetitions=2, warmup=0)).run()
    statuses = [(r.task_id, r.status) for r in outcome.records]
    assert statuses == [("too-long", "error")] * 2 + [("fine", "ok")] * 2
    bad = outcome.records[0]
    assert "context holds" in (bad.error or "") and bad.passed is False
    back = read_bundle(tmp_path / "r")
    assert back.manifest.complete and len(back.records) == 4


def test_base_model_runs_as_plain_completion(tmp_path: Path) -> None:
    from bench.backends.llama_cpp import PLAIN_STOP, LlamaCppBackend
    from bench.devices.profiles import LlamaCppSettings
    from bench.models.catalog import resolve_model

    backend = LlamaCppBackend(resolve_model("gemma3-270m"), LlamaCppSettings(n_ctx=512))
    facts = backend.load()
    try:
        assert facts["prompt_format"] == "plain_completion"
        assert facts["plain_completion_stop"] == PLAIN_STOP
        t = task(messages=[{"role": "user", "content": "What is the capital of France?"}], max_tokens=12)
        g = backend.generate(t)
        assert g.completion_tokens and g.completion_tokens > 0
        assert PLAIN_STOP not in g.text
    finally:
        backend.close()


@pytest.mark.parametrize("requested", [None, False, True])
def test_the_manifest_says_whether_flash_attention_was_used(smollm2, requested: bool | None) -> None:  # type: ignore[no-untyped-def]
    """``auto`` (None) is resolved by llama.cpp; the manifest records the outcome, read from its log."""
    from bench.backends.llama_cpp import LlamaCppBackend
    from bench.devices.profiles import LlamaCppSettings

    backend = LlamaCppBackend(smollm2, LlamaCppSettings(n_ctx=512, flash_attn=requested))
    facts = backend.load()
    backend.close()
    assert facts["settings"]["flash_attn"] is requested and "flash_attn_used" not in facts["settings"]
    if requested is None:
        assert isinstance(facts["flash_attn_used"], bool)  # llama.cpp said which (on, for CPUs)
    else:
        assert facts["flash_attn_used"] is requested
