"""Shapes at a depth and in parallel on real llama.cpp + SmolLM2 (bench.backends.llama_shapes).

Small sizes: the point is what is evaluated, timed and held in the KV cache, not how fast."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.backends.base import Generation
from bench.suite.loader import Shape, Task


@pytest.fixture(scope="module")
def backend4(smollm2) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A context for four sequences at once (the run sizes it from the suite's largest ``parallel``)."""
    from bench.backends.llama_cpp import LlamaCppBackend
    from bench.devices.profiles import LlamaCppSettings

    backend = LlamaCppBackend(
        smollm2, LlamaCppSettings(n_ctx=1024, n_batch=256, n_threads=1), n_seq=4, kv_unified=True
    )
    facts = backend.load()
    assert facts["settings"]["n_seq_max"] == 4
    yield backend
    backend.close()


def _run(backend: object, **shape: int | bool) -> Generation:
    task = Task(id="t", shape=Shape(**shape), check={"type": "none"})  # type: ignore[arg-type]
    return backend.generate(task)  # type: ignore[attr-defined,no-any-return]


def test_labels_follow_llama_bench() -> None:
    assert Shape(prompt_tokens=512, gen_tokens=1, depth_tokens=4096).label == "pp512 @ d4096"
    assert Shape(prompt_tokens=0, gen_tokens=128, depth_tokens=4096).label == "tg128 @ d4096"
    assert Shape(prompt_tokens=128, gen_tokens=128, parallel=4).label == "pp128+tg128 x4"
    assert (
        Shape(prompt_tokens=128, gen_tokens=128, parallel=4, shared_prompt=True).label == "pp128+tg128 x4 pps"
    )
    assert Shape(prompt_tokens=512, gen_tokens=1).label == "pp512"
    assert Shape(prompt_tokens=128, gen_tokens=128, parallel=1).label == "pp128+tg128 x1"
    assert Shape(prompt_tokens=128, gen_tokens=128).needs_engine is False


def test_pp_at_depth_times_the_prompt_only(backend4: object) -> None:
    gen = _run(backend4, prompt_tokens=64, gen_tokens=1, depth_tokens=256)
    # the engine's counters were reset after the depth: only the 64 prompt tokens were evaluated in the
    # timed window; the cache holds depth + prompt
    assert gen.engine_timings is not None and gen.engine_timings["prompt_eval_tokens"] == 64
    assert gen.prompt_tokens == 64 and gen.completion_tokens == 1
    assert gen.extra["n_kv_tokens"] == 256 + 64
    assert gen.extra["depth_tokens"] == 256 and gen.extra["depth_ms"] > 0
    assert "cached_tokens" not in gen.extra  # a depth is not a discounted cache read


def test_tg_at_depth_differs_from_depth_zero_in_kv_only(backend4: object) -> None:
    from bench.backends.llama_shapes import run_depth

    shallow = run_depth(backend4.engine, Shape(prompt_tokens=0, gen_tokens=8), seed=1)  # type: ignore[attr-defined]
    deep = _run(backend4, prompt_tokens=0, gen_tokens=8, depth_tokens=300)
    for gen in (shallow, deep):
        assert gen.completion_tokens == 8 and len(gen.content_ns) == 8
        assert gen.engine_timings is not None and gen.engine_timings["prompt_eval_tokens"] == 1
    # one prompt token + the 7 generated tokens fed back (the last is sampled, not decoded)
    assert shallow.extra["n_kv_tokens"] == 1 + 7
    assert deep.extra["n_kv_tokens"] == 300 + 1 + 7


@pytest.mark.parametrize("b", [1, 2, 4])
def test_parallel_generates_b_times_tg(backend4: object, b: int) -> None:
    from bench.report.batched_view import batched_row
    from bench.results.schema import Record

    pp, tg = 16, 6
    gen = _run(backend4, prompt_tokens=pp, gen_tokens=tg, parallel=b)  # parallel = 1: the B = 1 row
    assert gen.completion_tokens == b * tg and gen.prompt_tokens == b * pp
    assert len(gen.content_ns) == tg  # one stamp per step, each step B tokens
    assert gen.extra["n_kv_tokens"] == b * (pp + tg)  # N_KV read back from the cache
    pp_ms, tg_ms = gen.extra["pp_ms"], gen.extra["tg_ms"]
    assert pp_ms > 0 and tg_ms > 0
    assert abs((gen.t_end_ns - gen.t_dispatch_ns) / 1e6 - (pp_ms + tg_ms)) < 0.01
    rec = Record(
        run_id="r", task_id="t", category="c", repetition=0, warmup=False, status="ok",
        started_utc="2026-11-29T00:00:00Z", start_ns=0, end_ns=1, shape="s",
        prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens, **gen.extra,
    )  # fmt: skip
    row = batched_row(rec)
    assert row is not None
    assert (row["pp"], row["tg"], row["b"], row["n_kv"]) == (pp, tg, b, b * (pp + tg))
    assert row["s_tg_tps"] == pytest.approx(b * tg / (tg_ms / 1e3))
    assert row["s_pp_tps"] == pytest.approx(b * pp / (pp_ms / 1e3))
    assert row["s_tps"] == pytest.approx(b * (pp + tg) / ((pp_ms + tg_ms) / 1e3))


def test_shared_prompt_is_evaluated_once(backend4: object) -> None:
    pp, tg, b = 32, 4, 4
    shared = _run(backend4, prompt_tokens=pp, gen_tokens=tg, parallel=b, shared_prompt=True)
    apart = _run(backend4, prompt_tokens=pp, gen_tokens=tg, parallel=b)
    assert shared.prompt_tokens == pp and apart.prompt_tokens == b * pp
    assert shared.extra["n_kv_tokens"] == pp + b * tg  # the prompt's cells are shared, not copied
    assert apart.extra["n_kv_tokens"] == b * (pp + tg)
    # what the engine evaluated: the prompt once plus B tokens per step (llama.cpp counts multi-token
    # batches as prompt evaluation)
    assert shared.engine_timings is not None and apart.engine_timings is not None
    assert shared.engine_timings["prompt_eval_tokens"] == pp + b * tg
    assert apart.engine_timings["prompt_eval_tokens"] == b * (pp + tg)
    assert shared.completion_tokens == apart.completion_tokens == b * tg


def test_more_sequences_than_the_context_holds_fail_the_request(llama_backend: object) -> None:
    from bench.backends.base import RequestFailed

    with pytest.raises(RequestFailed, match="made for 1 sequences"):
        _run(llama_backend, prompt_tokens=8, gen_tokens=2, parallel=2)
