"""Several streams at once on one llama.cpp context: continuous batching for in-process concurrency.

``LlamaCppBackend`` serves one request at a time. A server serves many: llama.cpp decodes one token of
*every* active sequence in one forward pass, which reads the weights once for all of them, so the
aggregate tokens/s grows several-fold while each stream slows a little. ``BatchEngine`` does that on the
backend's own context, loaded with ``n_seq`` sequences (``LlamaCppBackend(..., n_seq=N)``):

- each stream owns a sequence id (its *slot*) and so its own range of the KV cache, and its own
  ``TokenStream`` (sampler, stamps, stop strings: the engine core's, as the sequential backend's);
- each ``step`` is ONE ``llama_decode`` over all active streams: one token for every stream that is
  generating, plus prompt chunks of newly admitted streams up to ``n_batch`` tokens (llama-server's
  continuous batching); then each stream samples from its own logits row and is stamped;
- a stream that ends (end token, stop string, its token limit, an error) frees its slot and KV cells at
  once, and the next waiting request is admitted at the next step.

The KV cache is not unified (llama.cpp's default, as ``llama-server -np N`` and ``llama-batched-bench``
run): each sequence holds ``n_ctx / N`` cells (``llama_n_ctx_seq``, padded to 256). A prompt that does not
fit its sequence is a failed request, not a crash. Stamps are per stream: the dispatch is taken when the
request is submitted (before templating, as the sequential backend does; the wait for a free slot is part
of its TTFT, as in a server's queue), each token when that stream's token is sampled.

Engine timings per stream: the context's own counters cannot be split between streams that share every
decode call, so each stream counts its prompt tokens and its fed-back tokens, and the time of the decode
calls that carried them (``TokenStream.share_*``; llama-server's per-slot timings mean the same).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from bench.backends.base import Generation, RequestFailed
from bench.backends.llama_core import RequestPlan, TokenBatch, TokenStream
from bench.backends.llama_cpp import LlamaCppBackend
from bench.models.engine import last_engine_error
from bench.suite.loader import Task

__all__ = ["MAX_SEQUENCES", "BatchEngine", "Finished"]

MAX_SEQUENCES = 256  # llama.cpp's LLAMA_MAX_SEQ: the most sequences one context can hold


@dataclass(frozen=True, slots=True)
class Finished:
    """A request that ended in the last ``step``: its generation, or the failure (with what it made)."""

    key: Hashable
    result: Generation | RequestFailed


@dataclass(eq=False, slots=True)
class _Stream:
    """One request's state inside the engine."""

    key: Hashable
    plan: RequestPlan
    out: TokenStream  # sampler, stamps (from the dispatch at submission), text
    slot: int = -1
    n_fed: int = 0  # prompt tokens already in the KV cache
    n_decoded: int = 0  # generated tokens fed back into the KV cache
    next_token: int | None = None  # sampled, to be decoded at the next step


class BatchEngine:
    """Drives a loaded ``LlamaCppBackend``'s context as ``backend.n_seq`` concurrent streams.

    ``submit`` queues a request; ``step`` runs one decode over all active streams and returns the requests
    that ended; ``run`` is a closed loop over a list of tasks (tests, benchmarks). Not thread-safe: one
    caller drives it."""

    def __init__(self, backend: LlamaCppBackend) -> None:
        self.backend = backend
        self.engine = backend.engine
        self.n_seq = self.engine.n_seq
        self.n_ctx_seq = self.engine.n_ctx_seq
        self.engine.clear_kv()  # the context starts empty: no reused prefixes
        self._cap = int(self.engine.ll.llama_n_batch(self.engine.ctx))  # tokens one llama_decode may take
        self._batch = TokenBatch(self.engine, self._cap)
        self._free = list(range(self.n_seq))  # free sequence ids, lowest first
        self._waiting: deque[_Stream] = deque()
        self._active: list[_Stream] = []  # by slot
        self._rejected: list[Finished] = []  # failed before admission; returned by the next step

    # ------------------------------------------------------------------------------------- public
    @property
    def in_flight(self) -> int:
        """Requests submitted and not yet returned by ``step`` (waiting, active or rejected)."""
        return len(self._waiting) + len(self._active) + len(self._rejected)

    def slots(self) -> dict[Hashable, int]:
        """The sequence id (slot) of every admitted request, by key."""
        return {s.key: s.slot for s in self._active}

    def cells_used(self, slot: int) -> int:
        """KV cells sequence ``slot`` holds (0 once its request ended and was freed)."""
        return self.engine.cells(slot)

    def submit(self, key: Hashable, task: Task) -> None:
        """Queue a request for ``task``; it is admitted at the next ``step`` with a free slot. A prompt
        the template rejects, or one longer than a sequence's context, fails (returned by ``step``)."""
        t_dispatch = time.perf_counter_ns()
        try:
            plan = self.backend.plan(task)  # the sequential backend's own plan of the task
            n_prompt = len(plan.prompt)
            if not n_prompt:  # nothing to decode: no logits to sample the first token from
                raise RequestFailed("the prompt has no tokens")
            if n_prompt >= self.n_ctx_seq:
                raise RequestFailed(
                    f"prompt has {n_prompt} tokens but each of the {self.n_seq} sequences holds "
                    f"{self.n_ctx_seq} (n_ctx / concurrency); raise [llama_cpp] n_ctx in the device "
                    "profile, lower --concurrency or shorten the task"
                )
        except RequestFailed as exc:
            self._rejected.append(Finished(key, exc))
            return
        plan = plan.within(self.n_ctx_seq)
        self._waiting.append(_Stream(key, plan, TokenStream(self.engine, plan, t_dispatch)))

    def step(self) -> list[Finished]:
        """Admit waiting requests into free slots, run one ``llama_decode`` over every active stream,
        sample each stream's next token; return the requests that ended."""
        done, self._rejected = self._rejected, []
        self._admit()
        if not self._active:
            return done
        outputs, n_eval, fed = self._fill()
        batch = self._batch
        if batch.n:
            t0 = time.perf_counter_ns()
            rc = batch.decode()
            if rc != 0:
                message = (
                    f"llama_decode failed (code {rc}) on a batch of {batch.n} tokens: {last_engine_error()}"
                )
                for s in list(self._active):
                    done.append(self._end(s, "error", RequestFailed(message)))
                return done
            self.engine.synchronize()
            took = time.perf_counter_ns() - t0
            for s, _ in outputs[:n_eval]:  # each stream that fed a generated token back
                s.out.share_eval(took)
            for s, n in fed:  # each stream whose prompt tokens were in the batch
                s.out.share_prompt(n, took)
        for s, row in outputs:
            s.next_token = s.out.sample(row)
            if s.next_token is None:
                done.append(self._end(s, s.out.finish or "length"))
        for s in list(self._active):  # a prompt-only request (no tokens to generate) ends after prefill
            if s.plan.n_gen <= 0 and s.n_fed == len(s.plan.prompt):
                done.append(self._end(s, "length"))
        return done

    def abort(self) -> list[Hashable]:
        """Drop every request (Ctrl-C, a fatal error): free slots, samplers and the KV cache; return the
        keys of the requests that had not ended."""
        keys = [f.key for f in self._rejected] + [s.key for s in (*self._active, *self._waiting)]
        for s in (*self._active, *self._waiting):
            s.out.close()
        self._rejected, self._active = [], []
        self._waiting.clear()
        self._free = list(range(self.n_seq))
        self.engine.clear_kv()
        return keys

    def close(self) -> None:
        self.abort()
        self._batch.free()

    def run(self, tasks: Sequence[Task], streams: int | None = None) -> list[Generation | RequestFailed]:
        """A closed loop: ``streams`` requests (default: every sequence) in flight until all of ``tasks``
        ran, each submitted as soon as one ends. Results in task order."""
        width = min(streams or self.n_seq, self.n_seq)
        results: dict[int, Generation | RequestFailed] = {}
        pending = deque(enumerate(tasks))
        while pending or self.in_flight:
            while pending and self.in_flight < width:
                i, task = pending.popleft()
                self.submit(i, task)
            for f in self.step():
                assert isinstance(f.key, int)
                results[f.key] = f.result
        return [results[i] for i in range(len(tasks))]

    # ------------------------------------------------------------------------------------ private
    def _admit(self) -> None:
        while self._waiting and self._free:
            s = self._waiting.popleft()
            s.slot = self._free.pop(0)
            self._active.append(s)
        self._active.sort(key=lambda x: x.slot)

    def _fill(self) -> tuple[list[tuple[_Stream, int]], int, list[tuple[_Stream, int]]]:
        """Put this step's tokens into the batch: one per generating stream, then prompt chunks. Returns
        (stream, batch row) for every stream whose logits are read after the decode (the first
        ``n_eval`` of them fed a generated token back), ``n_eval``, and (stream, prompt tokens) for every
        stream whose prompt is in the batch.

        Order matters for speed: with a non-unified KV cache llama.cpp splits a batch into micro-batches
        of consecutive sequence ids with equal token counts, so decode tokens go first, by slot."""
        b = self._batch
        b.clear()
        add, cap = b.add, self._cap
        outputs: list[tuple[_Stream, int]] = []
        for s in self._active:
            if s.next_token is not None and b.n < cap:
                outputs.append((s, add(s.next_token, len(s.plan.prompt) + s.n_decoded, s.slot, True)))
                s.next_token = None
                s.n_decoded += 1
        n_eval = len(outputs)
        fed: list[tuple[_Stream, int]] = []
        for s in self._active:
            prompt = s.plan.prompt
            left = len(prompt) - s.n_fed
            if left <= 0 or b.n >= cap:
                continue
            take = min(left, cap - b.n)
            start = s.n_fed
            s.n_fed += take
            wants = (
                s.n_fed == len(prompt) and s.plan.n_gen > 0
            )  # the last prompt token gives the first logits
            row = b.add_run(prompt, start, s.n_fed, s.slot, logits_last=wants)
            fed.append((s, take))
            if wants:
                outputs.append((s, row))
        return outputs, n_eval, fed

    def _end(self, s: _Stream, finish: str, failure: RequestFailed | None = None) -> Finished:
        """Free ``s``'s slot, sampler and KV cells; its generation (or failure carrying it)."""
        out = s.out
        self.engine.drop_sequence(s.slot)
        out.close()
        self._active.remove(s)
        self._free.append(s.slot)
        self._free.sort()
        gen = out.generation(len(s.plan.prompt), out.shared_timings(), finish=finish)
        gen.extra["cached_tokens"] = 0
        if failure is not None:
            failure.partial = gen
            return Finished(s.key, failure)
        return Finished(s.key, gen)
