"""The llama.cpp engine core's public calls (bench.backends.llama_core): stop strings over token pieces,
the KV bookkeeping of sequence 0, batch filling, and engine timings on every kind of generation.

Stop-string cases run on plain strings; everything else on real llama.cpp with SmolLM2."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bench.backends.base import Generation
from bench.backends.llama_core import (
    RequestPlan,
    StopScanner,
    TokenBatch,
    TokenStream,
    generate,
    sampler_chain,
)
from bench.errors import BackendError
from bench.suite.loader import Task

TIMING_KEYS = {"prompt_eval_ms", "prompt_eval_tokens", "eval_ms", "eval_tokens"}


def scan(stops: list[str], pieces: list[str]) -> tuple[list[str], bool, str]:
    """Feed ``pieces`` until a stop: (text shown per piece, stopped, the held text flushed at the end)."""
    scanner = StopScanner(stops)
    shown: list[str] = []
    for piece in pieces:
        text, stopped = scanner.feed(piece)
        shown.append(text)
        if stopped:
            return shown, True, scanner.flush()
    return shown, False, scanner.flush()


@pytest.mark.parametrize(
    ("stops", "pieces", "shown", "stopped", "rest"),
    [
        # split over three tokens: none of its characters is ever shown
        (["\nUser:"], ["Hello", "\nUs", "er", ": hi"], ["Hello", "", "", ""], True, ""),
        # inside one piece, with text after it in the same piece
        (["\nUser:"], ["Paris.\nUser: and"], ["Paris."], True, ""),
        # the very first piece is the stop
        (["\nUser:"], ["\nUser:"], [""], True, ""),
        # a partial stop that turns out to be text is shown, late, with what settled it
        (["\nUser:"], ["a\nU", "nder"], ["a", "\nUnder"], False, ""),
        # the stream ends on a partial stop (length, EOS): shown at the end, it is the model's text
        (["\nUser:"], ["a", "\nUse"], ["a", ""], False, "\nUse"),
        # the earliest of several stops wins, whichever is listed first
        (["END", "\n\n"], ["ab\n\ncdEND"], ["ab"], True, ""),
        # a stop whose start repeats: the held text must be the longest possible start
        (["aab"], ["aa", "aab"], ["", "aa"], True, ""),
        # one stop is the start of another: the shorter one completes first
        (["ab", "abc"], ["xa", "bc"], ["x", ""], True, ""),
        # longer than any window: the whole held text is matched, not a tail of it
        (["=" * 80], ["x" + "=" * 50, "=" * 30, "y"], ["x", ""], True, ""),
        # no stop strings: everything shows as it comes; an empty stop string is ignored
        ([""], ["a", "b"], ["a", "b"], False, ""),
    ],
)
def test_stop_strings_across_token_boundaries(
    stops: list[str], pieces: list[str], shown: list[str], stopped: bool, rest: str
) -> None:
    got_shown, got_stopped, got_rest = scan(stops, pieces)
    assert (got_shown, got_stopped, got_rest) == (shown, stopped, rest)
    # the answer is the streamed text up to the earliest stop string: nothing of it, nothing lost before it
    full = "".join(pieces)
    cut = min((full.find(s) for s in stops if s and s in full), default=len(full))
    assert "".join(got_shown) + got_rest == full[:cut]


# ------------------------------------------------------------------------------------ real engine
@pytest.fixture(scope="module")
def two(smollm2) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A context of 2 sequences of 512 cells each (not unified)."""
    from bench.backends.llama_cpp import LlamaCppBackend
    from bench.devices.profiles import LlamaCppSettings

    backend = LlamaCppBackend(smollm2, LlamaCppSettings(n_ctx=1024, n_threads=1), n_seq=2)
    backend.load()
    yield backend
    backend.close()


def chat(text: str, **kw: object) -> Task:
    return Task.model_validate(
        {"id": "t", "messages": [{"role": "user", "content": text}], "check": {"type": "none"}, **kw}
    )


def test_a_stop_string_over_a_token_boundary_ends_the_answer_before_it(llama_backend) -> None:  # type: ignore[no-untyped-def]
    engine = llama_backend.engine
    plan = llama_backend.plan(chat("Write two sentences about the sea.", max_tokens=24))
    # the tokens' own pieces, read from a stream without stop strings
    engine.clear_kv()
    engine.decode_prompt(plan.prompt)
    out = TokenStream(engine, plan, time.perf_counter_ns())
    try:
        while (token := out.sample(-1)) is not None:
            engine.decode_next(token)
    finally:
        out.close()
    pieces, full = out.pieces, "".join(out.pieces)
    # a stop made of the last 2 characters of one piece and the first 2 of the next, found nowhere earlier
    ends = [len("".join(pieces[: i + 1])) for i in range(len(pieces))]
    i = next(
        i
        for i in range(len(pieces) - 1)
        if len(pieces[i]) >= 3
        and len(pieces[i + 1]) >= 2
        and full.index(full[ends[i] - 2 : ends[i] + 2]) == ends[i] - 2
    )
    stop = full[ends[i] - 2 : ends[i] + 2]
    stopped = generate(engine, RequestPlan(plan.prompt, plan.n_gen, stops=(stop,)), time.perf_counter_ns())
    assert stopped.finish_reason == "stop"
    assert stopped.text == full[: ends[i] - 2]  # no character of the stop, not even the first half
    # generation went on to the token that completed the stop (counted: the engine generated it)
    assert stopped.completion_tokens == out.stamps.index(out.content[i + 1]) + 1
    # the first half was held back and never shown: the last text shown came before that token
    assert stopped.content_ns[-1] < stopped.t_end_ns and len(stopped.content_ns) <= i + 1


def test_kv_bookkeeping_of_sequence_0(llama_backend) -> None:  # type: ignore[no-untyped-def]
    engine = llama_backend.engine
    prompt = engine.synthetic_prompt(40, 3)
    engine.clear_kv()
    assert engine.cells(0) == 0
    engine.decode_prompt(prompt)
    assert engine.cells(0) == 40
    assert engine.keep_prefix([*prompt[:30], prompt[30] ^ 1, *prompt[31:]]) == 30  # differs at position 30
    assert engine.cells(0) == 30
    assert engine.keep_prefix(prompt[:30]) == 29  # one prompt token is always left to decode
    with pytest.raises(BackendError, match="sequence 0 holds 29"):
        engine.decode_prompt(prompt, 0)
    engine.decode_prompt(prompt, 29)
    assert engine.cells(0) == 40
    assert engine.keep_prefix([prompt[0] ^ 1, *prompt[1:]]) == 0 and engine.cells(0) == 0  # cleared
    assert (
        engine.synthetic_prompt(0, 1) == engine.synthetic_prompt(1, 1) == [engine.synthetic_prompt(9, 1)[0]]
    )


def test_batch_filling_puts_each_sequence_in_its_own_cells_and_rows(two, llama_backend) -> None:  # type: ignore[no-untyped-def]
    """Two prompts in one batch (one run each, logits for their last tokens), decoded once: each
    sequence holds its own prompt, and each logits row samples what the sequential path samples first."""
    engine = two.engine
    a, b = (two.plan(chat(q, max_tokens=1)).prompt for q in ("Name a colour.", "Who wrote Hamlet?"))
    engine.clear_kv()
    batch = TokenBatch(engine, len(a) + len(b) + 1)
    chains = [sampler_chain(engine.ll) for _ in range(2)]
    try:
        row_a = batch.add_run(a, 0, len(a), 0, logits_last=True)
        row_b = batch.add_run(b, 0, len(b), 1, logits_last=True)
        assert (row_a, row_b, batch.n) == (len(a) - 1, len(a) + len(b) - 1, len(a) + len(b))
        raw = batch.raw
        assert [raw.pos[i] for i in (0, row_a, row_a + 1, row_b)] == [0, len(a) - 1, 0, len(b) - 1]
        assert [raw.seq_id[i][0] for i in (0, row_a, row_a + 1, row_b)] == [0, 0, 1, 1]
        assert [i for i in range(batch.n) if raw.logits[i]] == [row_a, row_b]
        assert batch.decode() == 0
        assert (engine.cells(0), engine.cells(1)) == (len(a), len(b))
        firsts = [
            engine.ll.llama_sampler_sample(chains[j], engine.ctx, row) for j, row in enumerate((row_a, row_b))
        ]
        # one more token per sequence, after its own prompt: add() puts it at its next position
        batch.clear()
        assert [batch.add(firsts[j], n, j, True) for j, n in enumerate((len(a), len(b)))] == [0, 1]
        assert batch.decode() == 0
        assert (engine.cells(0), engine.cells(1)) == (len(a) + 1, len(b) + 1)
    finally:
        for chain in chains:
            engine.ll.llama_sampler_free(chain)
        batch.free()
        engine.clear_kv()
    single = llama_backend.engine
    for prompt, first in zip((a, b), firsts, strict=True):
        single.clear_kv()
        single.decode_prompt(prompt)
        chain = sampler_chain(single.ll)
        try:
            assert single.ll.llama_sampler_sample(chain, single.ctx, -1) == first
        finally:
            single.ll.llama_sampler_free(chain)


def _timed(gen: Generation | object) -> dict[str, float]:
    assert isinstance(gen, Generation), gen
    assert gen.engine_timings is not None and set(gen.engine_timings) == TIMING_KEYS
    return gen.engine_timings


def test_batched_streams_carry_their_own_engine_timings(two) -> None:  # type: ignore[no-untyped-def]
    from bench.backends.llama_batch import BatchEngine

    tasks = [
        chat("List three prime numbers.", max_tokens=10),
        Task.model_validate(
            {"id": "s", "shape": {"prompt_tokens": 48, "gen_tokens": 7}, "check": {"type": "none"}}
        ),
        chat("Who wrote Hamlet?", max_tokens=6),
    ]
    engine = BatchEngine(two)
    try:
        gens = engine.run(tasks)
    finally:
        engine.close()
    for gen in gens:
        t = _timed(gen)
        assert isinstance(gen, Generation)
        assert t["prompt_eval_tokens"] == gen.prompt_tokens  # a stream's whole prompt, never a neighbour's
        # every generated token is fed back but the last one sampled at the length limit; after an end
        # token (``stop``: these tasks have no stop strings) all of them were
        assert t["eval_tokens"] == gen.completion_tokens - (gen.finish_reason == "length")
        assert t["prompt_eval_ms"] > 0 and (t["eval_ms"] > 0) == (t["eval_tokens"] > 0)
        assert t["prompt_eval_ms"] + t["eval_ms"] <= (gen.t_end_ns - gen.t_dispatch_ns) / 1e6
    assert _timed(gens[1])["eval_tokens"] == 6  # a shape ends at its length: 7 sampled, 6 fed back


def test_one_batched_stream_counts_what_llama_cpp_counts(two) -> None:  # type: ignore[no-untyped-def]
    """Alone on the context, a stream's own accounting and llama.cpp's counters see the same decode calls:
    the same token counts, and llama.cpp's time inside ours (ours runs from the call to the synchronize)."""
    from bench.backends.llama_batch import BatchEngine

    shape = Task.model_validate(
        {"id": "s", "shape": {"prompt_tokens": 64, "gen_tokens": 9}, "check": {"type": "none"}}
    )
    engine = BatchEngine(two)
    try:
        two.engine.reset_counters()
        (gen,) = engine.run([shape])
        engine_own = two.engine.counters()
    finally:
        engine.close()
    ours = _timed(gen)
    assert (ours["prompt_eval_tokens"], ours["eval_tokens"]) == (64, 8)
    assert (engine_own["prompt_eval_tokens"], engine_own["eval_tokens"]) == (64, 8)
    for key in ("prompt_eval_ms", "eval_ms"):
        assert engine_own[key] <= ours[key] + 0.01, (engine_own, ours)


@pytest.mark.parametrize(
    "shape",
    [
        {"prompt_tokens": 32, "gen_tokens": 4, "depth_tokens": 64},
        {"prompt_tokens": 16, "gen_tokens": 4, "parallel": 2},
        {"prompt_tokens": 16, "gen_tokens": 4},
    ],
)
def test_shapes_carry_engine_timings(two, shape: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    gen = two.generate(Task.model_validate({"id": "s", "shape": shape, "check": {"type": "none"}}))
    t = _timed(gen)
    assert t["prompt_eval_tokens"] >= shape["prompt_tokens"] and t["prompt_eval_ms"] > 0
