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
"""

from __future__ import annotations

import ctypes
import random
import time
from typing import TYPE_CHECKING, Any

from bench.backends.base import Generation, ProgressFn, RequestFailed
from bench.models.engine import init_engine, last_engine_error, sampler_chain
from bench.suite.loader import Shape, Task

if TYPE_CHECKING:
    from bench.backends.llama_cpp import LlamaCppBackend

__all__ = ["run_depth", "run_parallel", "run_shape"]

_PROGRESS_EVERY_NS = 100_000_000


def run_shape(backend: LlamaCppBackend, task: Task, progress: ProgressFn | None = None) -> Generation:
    """Run a depth or parallel shape (``Shape.needs_engine``) on ``backend``'s loaded context."""
    assert task.shape is not None
    if task.shape.is_parallel:
        return run_parallel(backend, task.shape, task.seed, progress)
    return run_depth(backend, task.shape, task.seed, progress, temperature=task.temperature)


def _random_ids(n: int, n_vocab: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(n_vocab) for _ in range(n)]


def _decode_run(ll: Any, ctx: Any, tokens: list[int], n_batch: int, what: str) -> None:
    """Evaluate ``tokens`` into sequence 0 after what the cache holds, ``n_batch`` at a time."""
    arr = (ctypes.c_int32 * len(tokens))(*tokens)
    for start in range(0, len(tokens), n_batch):
        n = min(n_batch, len(tokens) - start)
        batch = ll.llama_batch_get_one(ctypes.cast(ctypes.byref(arr, start * 4), ll.llama_token_p), n)
        rc = ll.llama_decode(ctx, batch)
        if rc != 0:
            raise RequestFailed(f"llama_decode failed on the {what} (code {rc}): {last_engine_error()}")
    ll.llama_synchronize(ctx)


def run_depth(
    backend: LlamaCppBackend,
    shape: Shape,
    seed: int,
    progress: ProgressFn | None = None,
    *,
    temperature: float = 0.0,
) -> Generation:
    """llama-bench ``-d``: fill the KV cache with ``depth_tokens`` untimed, then time pp/tg after them.

    Works at depth 0 too (then it is the plain shape, with ``n_kv_tokens`` recorded)."""
    ll = init_engine()
    ctx = backend._ctx
    mem = ll.llama_get_memory(ctx)
    ll.llama_memory_clear(mem, True)
    backend._kv = []
    depth = backend.synthetic_prompt(shape.depth_tokens, seed + 1)  # BOS + random ids, as llama-bench
    t0 = time.perf_counter_ns()
    if depth:
        try:
            _decode_run(ll, ctx, depth, backend.settings.n_batch, f"depth of {len(depth)} tokens")
        except RequestFailed:
            ll.llama_memory_clear(mem, True)
            raise
    depth_ms = (time.perf_counter_ns() - t0) / 1e6
    backend._kv = list(depth)
    # after a depth the prompt continues a sequence: no BOS, random ids (llama-bench's test_prompt);
    # a tg shape decodes one token first, whose logits give the first generated token
    n_prompt = max(shape.prompt_tokens, 1)
    if depth:
        prompt = _random_ids(n_prompt, backend.n_vocab, seed)
    else:
        prompt = backend.synthetic_prompt(n_prompt, seed)
    t_dispatch = time.perf_counter_ns()
    # the backend's own loop, reusing the depth as a cached prefix: only ``prompt`` is evaluated and timed
    gen = backend._run(
        depth + prompt, shape.gen_tokens, True, [], temperature, seed, progress, t_dispatch, reuse=bool(depth)
    )
    gen.prompt_tokens = len(prompt)
    gen.extra.pop("cached_tokens", None)  # the depth is not a cache hit a price would discount
    gen.extra.update(
        depth_tokens=shape.depth_tokens,
        depth_ms=round(depth_ms, 3),
        n_kv_tokens=int(ll.llama_memory_seq_pos_max(mem, 0)) + 1,
    )
    return gen


class _Batch:
    """A ``llama_batch`` of up to ``size`` tokens, each in one sequence, refilled per decode."""

    def __init__(self, ll: Any, size: int) -> None:
        self.ll = ll
        self.size = size
        self.raw = ll.llama_batch_init(size, 0, 1)

    def fill(self, items: list[tuple[int, int, int, bool]]) -> Any:
        """``items``: (token, position, sequence id, wants logits)."""
        b = self.raw
        for i, (token, pos, seq, logits) in enumerate(items):
            b.token[i] = token
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = 1 if logits else 0
        b.n_tokens = len(items)
        return b

    def free(self) -> None:
        self.ll.llama_batch_free(self.raw)


def run_parallel(
    backend: LlamaCppBackend, shape: Shape, seed: int, progress: ProgressFn | None = None
) -> Generation:
    """llama-batched-bench for one B: B sequences of pp + tg, one decode per step over all of them."""
    ll = init_engine()
    ctx, n_seqs = backend._ctx, shape.n_seqs
    if n_seqs > backend.n_seq:
        raise RequestFailed(
            f"parallel = {n_seqs} but the context was made for {backend.n_seq} sequences "
            "(the run sizes it from the suite; this backend was created without it)"
        )
    mem = ll.llama_get_memory(ctx)
    ll.llama_memory_clear(mem, True)
    backend._kv = []
    n_p, n_tg, shared = max(shape.prompt_tokens, 1), shape.gen_tokens, shape.shared_prompt
    prompt_seqs = 1 if shared else n_seqs
    prompts = [backend.synthetic_prompt(n_p, seed + j) for j in range(prompt_seqs)]
    # position-major, as llama-batched-bench fills it; each sequence's last prompt token wants logits
    items = [(prompts[j][i], i, j, i == n_p - 1) for i in range(n_p) for j in range(prompt_seqs)]
    n_batch = backend.settings.n_batch
    batch = _Batch(ll, max(min(n_batch, len(items)), n_seqs))
    chains = [sampler_chain(ll) for _ in range(n_seqs)]  # greedy
    stamps: list[int] = []
    out_index: dict[int, int] = {}  # sequence → its logits row in the last decode
    firsts: dict[int, int] = {}
    now = time.perf_counter_ns
    try:
        ll.llama_perf_context_reset(ctx)
        t_dispatch = now()
        for start in range(0, len(items), batch.size):
            chunk = items[start : start + batch.size]
            rc = ll.llama_decode(ctx, batch.fill(chunk))
            if rc != 0:
                raise RequestFailed(f"llama_decode failed on the prompts (code {rc}): {last_engine_error()}")
            out_index = {seq: i for i, (_, _, seq, wants) in enumerate(chunk) if wants}
            if n_tg and start + batch.size < len(items):  # logits of an earlier chunk: sample before reuse
                firsts.update(
                    {seq: ll.llama_sampler_sample(chains[seq], ctx, i) for seq, i in out_index.items()}
                )
        ll.llama_synchronize(ctx)
        t_pp_end = now()
        if shared:
            for j in range(1, n_seqs):
                ll.llama_memory_seq_cp(mem, 0, j, -1, -1)
        cur: list[int] = []
        if n_tg:
            firsts.update({seq: ll.llama_sampler_sample(chains[seq], ctx, i) for seq, i in out_index.items()})
            cur = [firsts[0 if shared else j] for j in range(n_seqs)]
            stamps.append(now())
        last_progress = t_dispatch
        for step in range(n_tg):
            rc = ll.llama_decode(ctx, batch.fill([(cur[j], n_p + step, j, True) for j in range(n_seqs)]))
            if rc != 0:
                raise RequestFailed(
                    f"llama_decode failed at step {step + 1} of {n_tg} (code {rc}): {last_engine_error()}"
                )
            if step + 1 < n_tg:
                cur = [ll.llama_sampler_sample(chains[j], ctx, j) for j in range(n_seqs)]
                t = now()
                stamps.append(t)
                if progress is not None and t - last_progress >= _PROGRESS_EVERY_NS:
                    last_progress = t
                    progress(len(stamps) * n_seqs, t - t_dispatch)
        ll.llama_synchronize(ctx)
        t_end = now()
    finally:
        for chain in chains:
            ll.llama_sampler_free(chain)
        batch.free()
    held = [int(ll.llama_memory_seq_pos_max(mem, j)) + 1 for j in range(n_seqs)]
    n_kv = n_p + sum(h - n_p for h in held) if shared else sum(held)
    perf = ll.llama_perf_context(ctx)
    return Generation(
        t_dispatch_ns=t_dispatch,
        t_end_ns=t_end,
        content_ns=stamps,  # one stamp per step: every sequence's token of that step
        text="",
        prompt_tokens=n_p * prompt_seqs,
        completion_tokens=n_tg * n_seqs,
        token_count_source="engine",
        finish_reason="length",
        engine_timings={
            "prompt_eval_ms": round(perf.t_p_eval_ms, 3),
            "prompt_eval_tokens": float(perf.n_p_eval),
            "eval_ms": round(perf.t_eval_ms, 3),
            "eval_tokens": float(perf.n_eval),
        },
        extra={
            "parallel_seqs": n_seqs,
            "shared_prompt": shared,
            "n_kv_tokens": n_kv,
            "pp_ms": round((t_pp_end - t_dispatch) / 1e6, 4),
            "tg_ms": round((t_end - t_pp_end) / 1e6, 4),
        },
    )
