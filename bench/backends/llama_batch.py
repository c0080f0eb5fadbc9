"""Several streams at once on one llama.cpp context: continuous batching for in-process concurrency.

``LlamaCppBackend`` serves one request at a time. A server serves many: llama.cpp decodes one token of
*every* active sequence in one forward pass, which reads the weights once for all of them, so the
aggregate tokens/s grows several-fold while each stream slows a little. ``BatchEngine`` does that on the
backend's own context, loaded with ``n_seq`` sequences (``LlamaCppBackend(..., n_seq=N)``):

- each stream owns a sequence id (its *slot*) and so its own range of the KV cache and its own sampler
  chain (greedy at temperature 0, else temperature + seeded dist: the same chain as the backend's);
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
"""

from __future__ import annotations

import codecs
import ctypes
import time
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.backends.base import Generation, RequestFailed
from bench.backends.llama_cpp import LlamaCppBackend
from bench.errors import BackendError
from bench.models.engine import init_engine, last_engine_error, sampler_chain
from bench.suite.loader import Task

__all__ = ["MAX_SEQUENCES", "BatchEngine", "Finished"]

MAX_SEQUENCES = 256  # llama.cpp's LLAMA_MAX_SEQ: the most sequences one context can hold


@dataclass(frozen=True, slots=True)
class Finished:
    """A request that ended in the last ``step``: its generation, or the failure (with what it made)."""

    key: Hashable
    result: Generation | RequestFailed


@dataclass(eq=False)
class _Stream:
    """One request's state inside the engine."""

    key: Hashable
    t_dispatch: int
    prompt: list[int]
    n_gen: int
    ignore_eos: bool
    stops: list[str]
    temperature: float
    seed: int
    slot: int = -1
    sampler: Any = None
    n_fed: int = 0  # prompt tokens already in the KV cache
    n_decoded: int = 0  # generated tokens fed back into the KV cache
    next_token: int | None = None  # sampled, to be decoded at the next step
    stamps: list[int] = field(default_factory=list)  # every generated token
    content: list[int] = field(default_factory=list)  # tokens that added visible text
    pieces: list[str] = field(default_factory=list)
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))
    text_tail: str = ""
    t_stop: int | None = None


class BatchEngine:
    """Drives a loaded ``LlamaCppBackend`` context as ``backend.n_seq`` concurrent streams.

    ``submit`` queues a request; ``step`` runs one decode over all active streams and returns the requests
    that ended; ``run`` is a closed loop over a list of tasks (tests, benchmarks). Not thread-safe: one
    caller drives it."""

    def __init__(self, backend: LlamaCppBackend) -> None:
        self.backend = backend
        self._ll = init_engine()
        self._ctx, self._vocab = backend.handles()
        self.n_seq = backend.n_seq
        self.n_ctx_seq = backend.n_ctx_seq
        self._mem = self._ll.llama_get_memory(self._ctx)
        self._ll.llama_memory_clear(self._mem, True)  # the context starts empty: no reused prefixes
        self._cap = int(self._ll.llama_n_batch(self._ctx))  # tokens one llama_decode may take
        self._batch = self._ll.llama_batch_init(self._cap, 0, 1)
        self._free = list(range(self.n_seq))  # free sequence ids, lowest first
        self._waiting: deque[_Stream] = deque()
        self._active: list[_Stream] = []  # by slot
        self._rejected: list[Finished] = []  # failed before admission; returned by the next step
        self._buf = ctypes.create_string_buffer(256)

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
        return int(self._ll.llama_memory_seq_pos_max(self._mem, slot)) + 1

    def submit(self, key: Hashable, task: Task) -> None:
        """Queue a request for ``task``; it is admitted at the next ``step`` with a free slot. A prompt
        the template rejects, or one longer than a sequence's context, fails (returned by ``step``)."""
        t_dispatch = time.perf_counter_ns()
        try:
            prompt, n_gen, ignore_eos, stops = self._prepare(task)
            if not prompt:  # nothing to decode: no logits to sample the first token from
                raise RequestFailed("the prompt has no tokens")
            if len(prompt) >= self.n_ctx_seq:
                raise RequestFailed(
                    f"prompt has {len(prompt)} tokens but each of the {self.n_seq} sequences holds "
                    f"{self.n_ctx_seq} (n_ctx / concurrency); raise [llama_cpp] n_ctx in the device "
                    "profile, lower --concurrency or shorten the task"
                )
        except RequestFailed as exc:
            self._rejected.append(Finished(key, exc))
            return
        n_gen = min(n_gen, self.n_ctx_seq - len(prompt))
        self._waiting.append(
            _Stream(key, t_dispatch, prompt, n_gen, ignore_eos, stops, task.temperature, task.seed)
        )

    def step(self) -> list[Finished]:
        """Admit waiting requests into free slots, run one ``llama_decode`` over every active stream,
        sample each stream's next token; return the requests that ended."""
        done, self._rejected = self._rejected, []
        self._admit()
        if not self._active:
            return done
        outputs = self._fill()
        fed = self._batch.n_tokens
        rc = self._ll.llama_decode(self._ctx, self._batch) if fed else 0
        if rc != 0:
            message = f"llama_decode failed (code {rc}) on a batch of {fed} tokens: {last_engine_error()}"
            for s in list(self._active):
                done.append(self._end(s, "error", RequestFailed(message)))
            return done
        for s, idx in outputs:
            finish = self._sample(s, idx)
            if finish is not None:
                done.append(self._end(s, finish))
        for s in list(self._active):  # a prompt-only request (no tokens to generate) ends after prefill
            if s.n_gen <= 0 and s.n_fed == len(s.prompt):
                done.append(self._end(s, "length"))
        return done

    def abort(self) -> list[Hashable]:
        """Drop every request (Ctrl-C, a fatal error): free slots, samplers and the KV cache; return the
        keys of the requests that had not ended."""
        keys = [f.key for f in self._rejected] + [s.key for s in (*self._active, *self._waiting)]
        for s in self._active:
            self._ll.llama_sampler_free(s.sampler)
        self._rejected, self._active = [], []
        self._waiting.clear()
        self._free = list(range(self.n_seq))
        self._ll.llama_memory_clear(self._mem, True)
        return keys

    def close(self) -> None:
        self.abort()
        if self._batch is not None:
            self._ll.llama_batch_free(self._batch)
            self._batch = None

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
    def _prepare(self, task: Task) -> tuple[list[int], int, bool, list[str]]:
        """Token ids, tokens to generate, EOS ignored, stop strings: as ``LlamaCppBackend.generate``."""
        b = self.backend
        if task.shape is not None:
            prompt = b.synthetic_prompt(task.shape.prompt_tokens, task.seed)
            if not prompt:  # tg-only shape: a BOS-only prompt, as llama-bench's tg test starts
                prompt = b.synthetic_prompt(1, task.seed)
            return prompt, task.shape.gen_tokens, True, []
        prompt, stops = b.render_prompt(task)
        return prompt, task.max_tokens, False, stops

    def _admit(self) -> None:
        ll = self._ll
        while self._waiting and self._free:
            s = self._waiting.popleft()
            s.slot = self._free.pop(0)
            s.sampler = sampler_chain(ll, s.temperature, s.seed)  # the backend's own chain
            self._active.append(s)
        self._active.sort(key=lambda x: x.slot)

    def _fill(self) -> list[tuple[_Stream, int]]:
        """Put this step's tokens into the batch: one per generating stream, then prompt chunks. Returns
        (stream, batch index) for every stream whose logits are read after the decode.

        Order matters for speed: with a non-unified KV cache llama.cpp splits a batch into micro-batches
        of consecutive sequence ids with equal token counts, so decode tokens go first, by slot."""
        b = self._batch
        token, pos, n_seq_id, seq_id, logits = b.token, b.pos, b.n_seq_id, b.seq_id, b.logits
        n = 0
        outputs: list[tuple[_Stream, int]] = []
        for s in self._active:
            if s.next_token is not None and n < self._cap:
                token[n], pos[n], n_seq_id[n], logits[n] = s.next_token, len(s.prompt) + s.n_decoded, 1, 1
                seq_id[n][0] = s.slot
                s.next_token = None
                s.n_decoded += 1
                outputs.append((s, n))
                n += 1
        for s in self._active:
            left = len(s.prompt) - s.n_fed
            if left <= 0 or n >= self._cap:
                continue
            take = min(left, self._cap - n)
            for j in range(s.n_fed, s.n_fed + take):
                token[n], pos[n], n_seq_id[n], logits[n] = s.prompt[j], j, 1, 0
                seq_id[n][0] = s.slot
                n += 1
            s.n_fed += take
            if s.n_fed == len(s.prompt) and s.n_gen > 0:  # the prompt's last token gives the first logits
                logits[n - 1] = 1
                outputs.append((s, n - 1))
        b.n_tokens = n
        return outputs

    def _sample(self, s: _Stream, idx: int) -> str | None:
        """Sample ``s``'s next token from batch row ``idx`` and stamp it; the finish reason if it ended."""
        ll, vocab, buf = self._ll, self._vocab, self._buf
        token = ll.llama_sampler_sample(s.sampler, self._ctx, idx)
        t = time.perf_counter_ns()
        if not s.ignore_eos and ll.llama_vocab_is_eog(vocab, token):
            s.t_stop = t  # the stream ends when the end token is sampled
            return "stop"
        s.stamps.append(t)
        n_bytes = ll.llama_token_to_piece(vocab, token, buf, 256, 0, False)
        piece = s.decoder.decode(buf.raw[:n_bytes]) if n_bytes > 0 else ""
        if piece:
            s.content.append(t)
            s.pieces.append(piece)
            if s.stops:
                s.text_tail = (s.text_tail + piece)[-64:]
                if any(stop in s.text_tail for stop in s.stops):
                    return "stop"
        if len(s.stamps) >= s.n_gen:
            return "length"
        s.next_token = token
        return None

    def _end(self, s: _Stream, finish: str, failure: RequestFailed | None = None) -> Finished:
        """Free ``s``'s slot, sampler and KV cells; its generation (or failure carrying it)."""
        ll = self._ll
        if not ll.llama_memory_seq_rm(self._mem, s.slot, -1, -1):  # never fails for a whole sequence
            raise BackendError(f"llama.cpp could not free sequence {s.slot}: {last_engine_error()}")
        ll.llama_sampler_free(s.sampler)
        self._active.remove(s)
        self._free.append(s.slot)
        self._free.sort()
        gen = self._generation(s, finish)
        if failure is not None:
            failure.partial = gen
            return Finished(s.key, failure)
        return Finished(s.key, gen)

    def _generation(self, s: _Stream, finish: str) -> Generation:
        # Stream end: when the end token was sampled, else the last token (as the sequential backend).
        t_end = s.t_stop or (s.stamps[-1] if s.stamps else time.perf_counter_ns())
        text = "".join(s.pieces)
        if s.stops and finish == "stop":
            for stop in s.stops:
                cut = text.find(stop)
                if cut >= 0:
                    text = text[:cut]
        return Generation(
            t_dispatch_ns=s.t_dispatch,
            t_end_ns=t_end,
            # synthetic shapes: every token counts (llama-bench ignores text); text tasks: visible tokens
            content_ns=s.stamps if s.ignore_eos else s.content,
            text=text,
            prompt_tokens=len(s.prompt),
            completion_tokens=len(s.stamps),
            token_count_source="engine",
            finish_reason=finish,
            prefill_source="client",
            extra={"cached_tokens": 0},
        )
