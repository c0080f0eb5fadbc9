"""Synthetic shapes at a depth and in parallel, on the in-process llama.cpp context.

Two llama.cpp tools define what is measured here, and this module reproduces their protocol so the
figures can be set side by side (docs/shapes.md):

- **depth** (``llama-bench -d N``): the KV cache is cleared, N synthetic tokens are evaluated into it
  *untimed*, then the prompt (``pp``) or the generation (``tg``) is timed on top of them. The dispatch
  stamp is taken after the depth, so TTFT and the prefill rate cover the prompt only; the engine's own
  counters (``engine_timings.prompt_eval_tokens``) are reset after the depth too, and say so. The depth's
  own evaluation time is recorded apart (``depth_ms``), never in a latency.
- **parallel** (``llama-batched-bench``, one ``-npl`` value): B sequences of PP prompt + TG generated
  tokens on one context, each its own sequence id in a unified KV cache. The prompts go in one batch
  (cut at ``n_batch``), then every generation step is *one* ``llama_decode`` over all B sequences. With
  ``shared_prompt`` (``-pps``) the prompt is evaluated once as sequence 0 and copied to the others
  (``llama_memory_seq_cp``: shared cells, not a second evaluation). llama-batched-bench's table is
  rebuilt at read time from what is recorded here: T_PP (``pp_ms``), T_TG (``tg_ms``), N_KV
  (``n_kv_tokens``, read back from the KV cache, not computed), B (``parallel_seqs``).

Where we differ from the tools, on purpose: generated tokens are *sampled* (greedy, per sequence) as a
server would, not drawn at random, so the TG phase includes B sampler calls per step; llama-batched-bench
requests logits for the last prompt token only, here every sequence's last prompt token has logits (its
first generated token is sampled from them).

Everything here runs through the engine core's public calls (``bench.backends.llama_core``): the
context's KV cache and chunked prompt decode, ``TokenBatch``, the shared sampler and the one-sequence
``generate`` loop; this module holds only the two protocols.
"""

from __future__ import annotations

import time

from bench.backends.base import Generation, ProgressFn, RequestFailed
from bench.backends.llama_core import (
    PROGRESS_EVERY_NS,
    LlamaContext,
    RequestPlan,
    TokenBatch,
    generate,
    sampler_chain,
)
from bench.models.engine import last_engine_error
from bench.suite.loader import Shape, Task

__all__ = ["run_depth", "run_parallel", "run_shape"]


def run_shape(engine: LlamaContext, task: Task, progress: ProgressFn | None = None) -> Generation:
    """Run a depth or parallel shape (``Shape.needs_engine``) on a loaded context."""
    assert task.shape is not None
    if task.shape.is_parallel:
        return run_parallel(engine, task.shape, task.seed, progress)
    return run_depth(engine, task.shape, task.seed, progress, temperature=task.temperature)


def run_depth(
    engine: LlamaContext,
    shape: Shape,
    seed: int,
    progress: ProgressFn | None = None,
    *,
    temperature: float = 0.0,
) -> Generation:
    """llama-bench ``-d``: fill the KV cache with ``depth_tokens`` untimed, then time pp/tg after them.

    Works at depth 0 too (then it is the plain shape, with ``n_kv_tokens`` recorded)."""
    engine.clear_kv()
    depth = engine.synthetic_prompt(shape.depth_tokens, seed + 1) if shape.depth_tokens else []
    t0 = time.perf_counter_ns()
    engine.decode_prompt(depth, what=f"depth of {len(depth)} tokens")  # BOS + random ids, as llama-bench
    depth_ms = (time.perf_counter_ns() - t0) / 1e6
    # after a depth the prompt continues a sequence: no BOS, random ids (llama-bench's test_prompt);
    # a tg shape decodes one token first, whose logits give the first generated token
    n_prompt = max(shape.prompt_tokens, 1)
    prompt = engine.random_ids(n_prompt, seed) if depth else engine.synthetic_prompt(n_prompt, seed)
    plan = RequestPlan(depth + prompt, shape.gen_tokens, True, (), temperature, seed)
    t_dispatch = time.perf_counter_ns()
    # the one-sequence loop, reusing the depth as a cached prefix: only ``prompt`` is evaluated and timed
    gen = generate(engine, plan, t_dispatch, progress, reuse=bool(depth))
    gen.prompt_tokens = len(prompt)
    gen.extra.pop("cached_tokens", None)  # the depth is not a cache hit a price would discount
    gen.extra.update(
        depth_tokens=shape.depth_tokens, depth_ms=round(depth_ms, 3), n_kv_tokens=engine.cells(0)
    )
    return gen


def run_parallel(
    engine: LlamaContext, shape: Shape, seed: int, progress: ProgressFn | None = None
) -> Generation:
    """llama-batched-bench for one B: B sequences of pp + tg, one decode per step over all of them."""
    n_seqs = shape.n_seqs
    if n_seqs > engine.n_seq:
        raise RequestFailed(
            f"parallel = {n_seqs} but the context was made for {engine.n_seq} sequences "
            "(the run sizes it from the suite; this backend was created without it)"
        )
    ll, ctx = engine.ll, engine.ctx
    engine.clear_kv()
    n_p, n_tg, shared = max(shape.prompt_tokens, 1), shape.gen_tokens, shape.shared_prompt
    prompt_seqs = 1 if shared else n_seqs
    prompts = [engine.synthetic_prompt(n_p, seed + j) for j in range(prompt_seqs)]
    # position-major, as llama-batched-bench fills it; each sequence's last prompt token wants logits
    items = [(prompts[j][i], i, j, i == n_p - 1) for i in range(n_p) for j in range(prompt_seqs)]
    batch = TokenBatch(engine, max(min(engine.n_batch, len(items)), n_seqs))
    chains = [sampler_chain(ll) for _ in range(n_seqs)]  # greedy
    stamps: list[int] = []
    out_index: dict[int, int] = {}  # sequence → its logits row in the last decode
    firsts: dict[int, int] = {}
    now = time.perf_counter_ns
    try:
        engine.reset_counters()
        t_dispatch = now()
        for start in range(0, len(items), batch.capacity):
            batch.clear()
            out_index = {}
            for token, pos, seq, wants in items[start : start + batch.capacity]:
                row = batch.add(token, pos, seq, wants)
                if wants:
                    out_index[seq] = row
            rc = batch.decode()
            if rc != 0:
                raise RequestFailed(f"llama_decode failed on the prompts (code {rc}): {last_engine_error()}")
            if n_tg and start + batch.capacity < len(
                items
            ):  # logits of an earlier chunk: sample before reuse
                firsts.update(
                    {seq: ll.llama_sampler_sample(chains[seq], ctx, i) for seq, i in out_index.items()}
                )
        engine.synchronize()
        t_pp_end = now()
        if shared:
            for j in range(1, n_seqs):
                engine.copy_sequence(0, j)
        cur: list[int] = []
        if n_tg:
            firsts.update({seq: ll.llama_sampler_sample(chains[seq], ctx, i) for seq, i in out_index.items()})
            cur = [firsts[0 if shared else j] for j in range(n_seqs)]
            stamps.append(now())
        last_progress = t_dispatch
        for step in range(n_tg):
            batch.clear()
            for j in range(n_seqs):
                batch.add(cur[j], n_p + step, j, True)
            rc = batch.decode()
            if rc != 0:
                raise RequestFailed(
                    f"llama_decode failed at step {step + 1} of {n_tg} (code {rc}): {last_engine_error()}"
                )
            if step + 1 < n_tg:
                cur = [ll.llama_sampler_sample(chains[j], ctx, j) for j in range(n_seqs)]
                t = now()
                stamps.append(t)
                if progress is not None and t - last_progress >= PROGRESS_EVERY_NS:
                    last_progress = t
                    progress(len(stamps) * n_seqs, t - t_dispatch)
        engine.synchronize()
        t_end = now()
    except RequestFailed:
        engine.clear_kv()  # unknown state: the next request starts cold
        raise
    finally:
        for chain in chains:
            ll.llama_sampler_free(chain)
        batch.free()
    held = [engine.cells(j) for j in range(n_seqs)]
    n_kv = n_p + sum(h - n_p for h in held) if shared else sum(held)
    return Generation(
        t_dispatch_ns=t_dispatch,
        t_end_ns=t_end,
        content_ns=stamps,  # one stamp per step: every sequence's token of that step
        text="",
        prompt_tokens=n_p * prompt_seqs,
        completion_tokens=n_tg * n_seqs,
        token_count_source="engine",
        finish_reason="length",
        engine_timings=engine.counters(),
        extra={
            "parallel_seqs": n_seqs,
            "shared_prompt": shared,
            "n_kv_tokens": n_kv,
            "pp_ms": round((t_pp_end - t_dispatch) / 1e6, 4),
            "tg_ms": round((t_end - t_pp_end) / 1e6, 4),
        },
    )
