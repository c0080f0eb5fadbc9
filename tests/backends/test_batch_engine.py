"""Real llama.cpp, several streams on one context (bench.backends.llama_batch): the same answers as the
sequential backend, slots and KV cells freed and reused, too-long prompts as failures, per-stream stamps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.backends.base import Generation, RequestFailed
from bench.backends.llama_batch import BatchEngine
from bench.backends.llama_cpp import LlamaCppBackend
from bench.devices.profiles import LlamaCppSettings
from bench.suite.loader import Task

pytestmark = pytest.mark.engine

QUESTIONS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "List three prime numbers.",
    "Who wrote Hamlet?",
]
LONG = "Here is a list of words: " + ", ".join(f"word{i}" for i in range(200)) + ". Which comes first?"


def task(i: int, **kw: object) -> Task:
    base: dict[str, object] = {"id": f"t{i}", "check": {"type": "none"}, "max_tokens": 12}
    base.update(kw)
    if not {"shape", "prompt", "messages"} & kw.keys():
        base["messages"] = [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]
    return Task.model_validate(base)


@pytest.fixture(scope="module")
def three(smollm2) -> Iterator[LlamaCppBackend]:  # type: ignore[no-untyped-def]
    """A context of 3 sequences of 512 cells each."""
    backend = LlamaCppBackend(smollm2, LlamaCppSettings(n_ctx=1536), n_seq=3)
    backend.load()
    yield backend
    backend.close()


def ok(result: Generation | RequestFailed) -> Generation:
    assert isinstance(result, Generation), result
    return result


def test_streams_give_the_sequential_backends_answers(three, llama_backend) -> None:  # type: ignore[no-untyped-def]
    """Greedy and seeded sampling per stream: token for token what one-at-a-time decoding gives, with more
    requests than sequences (a finished stream's slot takes the next request)."""
    tasks = [
        task(0),
        task(1),
        task(2, prompt="Monday, Tuesday, Wednesday,"),
        task(3, temperature=0.8, seed=7),
        task(4, max_tokens=5),
    ]
    engine = BatchEngine(three)
    try:
        batched = [ok(r) for r in engine.run(tasks)]
    finally:
        engine.close()
    for t, got in zip(tasks, batched, strict=True):
        want = llama_backend.generate(t)
        assert (got.text, got.completion_tokens, got.finish_reason) == (
            want.text,
            want.completion_tokens,
            want.finish_reason,
        ), t.id
        assert got.prompt_tokens == want.prompt_tokens and got.token_count_source == "engine"
    assert batched[4].completion_tokens == 5 and batched[4].finish_reason == "length"


def test_a_finished_stream_frees_its_slot_and_cells_for_the_next_request(three) -> None:  # type: ignore[no-untyped-def]
    engine = BatchEngine(three)
    try:
        engine.submit("short", task(0, max_tokens=2))
        engine.submit("long", task(1, max_tokens=12))
        engine.submit("a", task(2, max_tokens=12))
        engine.submit("waiting", task(3, max_tokens=3))  # 4 requests, 3 sequences: this one waits
        engine.step()
        assert engine.slots() == {"short": 0, "long": 1, "a": 2}
        assert engine.cells_used(0) > 10  # the prompt is in sequence 0's cells
        ended: list[str] = []
        while "short" not in ended:
            ended += [str(f.key) for f in engine.step()]
        assert engine.cells_used(0) == 0  # freed the moment it ended
        engine.step()
        assert engine.slots()["waiting"] == 0  # admitted into the freed slot at the next step
        results = {}
        while engine.in_flight:
            results.update({f.key: ok(f.result) for f in engine.step()})
        assert results["waiting"].completion_tokens == 3
        assert [engine.cells_used(s) for s in range(3)] == [0, 0, 0]
    finally:
        engine.close()


def test_a_prompt_longer_than_its_sequence_is_a_failed_request_not_a_crash(three) -> None:  # type: ignore[no-untyped-def]
    engine = BatchEngine(three)
    try:
        assert engine.n_ctx_seq == 512
        results = engine.run([task(0), task(1, messages=[{"role": "user", "content": LONG * 2}]), task(2)])
    finally:
        engine.close()
    assert isinstance(results[1], RequestFailed)
    assert "each of the 3 sequences holds 512" in str(results[1]) and "--concurrency" in str(results[1])
    assert ok(results[0]).completion_tokens and ok(results[2]).completion_tokens  # the others ran


def test_per_stream_stamps_are_ordered_and_streams_overlap(three) -> None:  # type: ignore[no-untyped-def]
    engine = BatchEngine(three)
    try:
        gens = [ok(r) for r in engine.run([task(i, max_tokens=8) for i in range(3)])]
    finally:
        engine.close()
    for g in gens:
        assert g.content_ns, g
        assert g.t_dispatch_ns < g.content_ns[0] <= g.t_end_ns  # TTFT < e2e
        assert g.content_ns == sorted(g.content_ns) and g.content_ns[-1] <= g.t_end_ns
    # all three were decoded together: each one's first token came before any of them ended
    assert max(g.content_ns[0] for g in gens) < min(g.t_end_ns for g in gens)
    # tokens of one step are sampled one stream after another: the streams' stamps interleave
    assert len({g.content_ns[1] for g in gens}) == 3


def test_synthetic_shapes_ignore_eos_and_a_prompt_only_shape_ends_after_prefill(three) -> None:  # type: ignore[no-untyped-def]
    shapes = [
        task(0, shape={"prompt_tokens": 64, "gen_tokens": 10}),
        task(1, shape={"prompt_tokens": 0, "gen_tokens": 6}),
        task(2, shape={"prompt_tokens": 32, "gen_tokens": 0}),
    ]
    engine = BatchEngine(three)
    try:
        gens = [ok(r) for r in engine.run(shapes)]
    finally:
        engine.close()
    assert [g.completion_tokens for g in gens] == [10, 6, 0]
    assert [g.prompt_tokens for g in gens] == [64, 1, 32]
    assert len(gens[0].content_ns) == 10  # every token counts in a shape, text or not
    assert gens[2].finish_reason == "length" and gens[2].t_end_ns > gens[2].t_dispatch_ns
