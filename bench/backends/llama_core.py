"""The llama.cpp engine core: one loaded context, and every call the in-process paths make on it.

Three paths drive llama.cpp in this process: one request at a time (``bench.backends.llama_cpp``, agent
steps included), several streams in continuous batching (``bench.backends.llama_batch``) and llama.cpp's
own benchmark protocols at a depth and in parallel (``bench.backends.llama_shapes``). Each used to keep
its own copy of batch filling, chunked prompt decoding, sampling, stop strings and the synthetic prompt,
and the shapes reached into the backend's private context. What they share lives here, as public calls,
so that a fix to any of it reaches all three:

- ``LlamaContext``: the model and its context (load, close, handles, sizes); the KV cache (clear, keep a
  token prefix of sequence 0, cells per sequence, drop or copy a sequence); chunked prompt decoding into
  sequence 0 and feeding generated tokens back; the synthetic prompts of shapes; llama.cpp's own
  performance counters;
- ``TokenBatch``: a ``llama_batch`` filled one token, or one run of a sequence's tokens, at a time, for
  any sequence ids (whether the sequences share one KV cache or each own a range of it is the context's
  setting, not the batch's);
- ``sampler_chain`` and ``TokenStream``: one request's output: its sampler, per-token stamps, end of
  generation, stop strings (``StopScanner``), its share of shared decode calls, and the ``Generation``;
- ``generate``: the one-sequence loop (single requests, agent steps, shapes at a depth).

Why a module at the bottom of ``backends`` and not ``bench.models.engine``: that module loads the library
and sits below ``backends`` (the vocab-only tokenizer loads GGUF files through it too), so it cannot build
a ``Generation`` or raise ``RequestFailed``, which the core needs. The core imports none of the three
paths; they import it, and nothing imports back up (``tests/test_structure.py`` fails on any cycle).

Engine timings (``Generation.engine_timings``: ``prompt_eval_ms``, ``prompt_eval_tokens``, ``eval_ms``,
``eval_tokens``) come from llama.cpp's own counters (``llama_perf_context``, reset at dispatch) wherever
one request has the context to itself: single requests, agent steps, shapes at a depth and in parallel.
llama.cpp counts every decode call of more than one token as prompt evaluation, and reports at least 1
for each count. Batched streams share every decode call, and the context's counters cannot be split
between them, so each ``TokenStream`` keeps its own, as llama-server does per slot: the prompt tokens it
put into decode calls and the time of those calls (through ``llama_synchronize``), and the generated
tokens it fed back and the time of the calls that carried them, whatever else shared the call.
"""

from __future__ import annotations

import codecs
import ctypes
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import psutil

from bench.backends.base import Generation, ProgressFn, RequestFailed
from bench.devices.profiles import LlamaCppSettings, default_threads
from bench.errors import BackendError
from bench.models.catalog import ResolvedModel
from bench.models.engine import FLASH_ATTN_LOG, flash_attn_used, init_engine, last_engine_error, loaded_engine

__all__ = [
    "PROGRESS_EVERY_NS",
    "LlamaContext",
    "RequestPlan",
    "StopScanner",
    "TokenBatch",
    "TokenStream",
    "engine_timings",
    "generate",
    "sampler_chain",
]

PROGRESS_EVERY_NS = 100_000_000  # progress callback at most 10 times per second
_PIECE_BYTES = 256  # a token's text fits this buffer; a longer one is read again with a larger buffer


def engine_timings(
    prompt_ms: float, prompt_tokens: float, eval_ms: float, eval_tokens: float
) -> dict[str, float]:
    """The one shape of ``Generation.engine_timings`` for every in-process path (as llama.cpp names them)."""
    return {
        "prompt_eval_ms": round(prompt_ms, 3),
        "prompt_eval_tokens": float(prompt_tokens),
        "eval_ms": round(eval_ms, 3),
        "eval_tokens": float(eval_tokens),
    }


def sampler_chain(ll: Any, temperature: float = 0.0, seed: int = 0) -> Any:
    """The one sampler every in-process path uses (single requests, batched streams, parallel shapes):
    greedy at temperature 0, else temperature then a seeded draw, so the same request samples the same
    tokens whichever path serves it. The caller frees it (``llama_sampler_free``)."""
    chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
    if temperature <= 0:
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_greedy())
    else:
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_temp(temperature))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_dist(seed))
    return chain


@dataclass(frozen=True, slots=True)
class RequestPlan:
    """What one request decodes and how it ends: prompt token ids, the most tokens to generate, whether
    end-of-generation is ignored (synthetic shapes, exact-length replays), its stop strings, sampling."""

    prompt: list[int]
    n_gen: int
    ignore_eos: bool = False
    stops: tuple[str, ...] = ()
    temperature: float = 0.0
    seed: int = 0

    def within(self, cells: int) -> RequestPlan:
        """The plan with at most as many tokens to generate as ``cells`` KV cells hold after the prompt."""
        return replace(self, n_gen=min(self.n_gen, cells - len(self.prompt)))


# --------------------------------------------------------------------------------------------- context
class LlamaContext:
    """One model and one context, loaded once, with the KV bookkeeping of sequence 0.

    ``n_seq``: sequences the context holds (llama.cpp's ``n_seq_max``): 1 for one request at a time; N for
    batched streams, each in ``n_ctx / N`` cells of the KV cache; with ``kv_unified`` one KV cache shared
    by the sequences (parallel shapes, as ``llama-batched-bench -kvu``), each may use all ``n_ctx``."""

    def __init__(
        self,
        model: ResolvedModel,
        settings: LlamaCppSettings,
        *,
        threads: int | None = None,
        n_seq: int = 1,
        kv_unified: bool = False,
    ) -> None:
        self.model_ref = model
        self.settings = settings
        self.n_threads = threads or settings.n_threads or default_threads()
        self.n_threads_batch = settings.n_threads_batch or self.n_threads
        self.n_seq = n_seq
        self.kv_unified = kv_unified
        self.n_batch = settings.n_batch  # the most tokens one llama_decode takes
        self.n_ctx = 0
        self.n_ctx_seq = 0  # KV cells per sequence: n_ctx, or n_ctx / n_seq (padded) when not unified
        self.n_vocab = 0
        self._ll: Any = None
        self._model: Any = None
        self._ctx: Any = None
        self._vocab: Any = None
        self._mem: Any = None
        self._held: list[int] = []  # the token ids whose KV sequence 0 holds (prefix reuse)
        self._one = (ctypes.c_int32 * 1)()

    # ----------------------------------------------------------------------------------- lifecycle
    def load(self) -> dict[str, Any]:
        """Load the model and create the context; the engine's facts for the manifest."""
        ll = init_engine()
        s = self.settings
        mparams = ll.llama_model_default_params()
        mparams.n_gpu_layers = s.n_gpu_layers if s.n_gpu_layers >= 0 else 999
        mparams.use_mmap = s.use_mmap
        rss_before = psutil.Process().memory_info().rss
        t0 = time.perf_counter_ns()
        model = ll.llama_model_load_from_file(str(self.model_ref.path).encode(), mparams)
        if not model:
            raise BackendError(
                f"{self.model_ref.path}: llama.cpp could not load the model: {last_engine_error()}"
            )
        cparams = ll.llama_context_default_params()
        cparams.n_ctx = s.n_ctx
        cparams.n_batch = s.n_batch
        cparams.n_ubatch = min(s.n_ubatch, s.n_batch)
        cparams.n_threads = self.n_threads
        cparams.n_threads_batch = self.n_threads_batch
        cparams.no_perf = False
        cparams.n_seq_max = self.n_seq
        if self.n_seq > 1 and self.kv_unified:  # one KV cache shared by the sequences (-kvu)
            cparams.kv_unified = True
        if s.flash_attn is not None:
            cparams.flash_attn_type = 1 if s.flash_attn else 0
        FLASH_ATTN_LOG.clear()
        ctx = ll.llama_init_from_model(model, cparams)
        if not ctx:
            ll.llama_model_free(model)
            raise BackendError(
                f"llama.cpp could not create a context (n_ctx={s.n_ctx}): {last_engine_error()}"
            )
        load_ms = (time.perf_counter_ns() - t0) / 1e6
        self._ll, self._model, self._ctx = ll, model, ctx
        self._vocab = ll.llama_model_get_vocab(model)
        self._mem = ll.llama_get_memory(ctx)
        self._held = []
        self.n_ctx = ll.llama_n_ctx(ctx)
        self.n_ctx_seq = ll.llama_n_ctx_seq(ctx)
        self.n_vocab = ll.llama_vocab_n_tokens(self._vocab)
        rss_after = psutil.Process().memory_info().rss
        return {
            "engine": "llama.cpp",
            "engine_version": f"llama-cpp-python {ll.__version__}",
            "system_info": ll.llama_print_system_info().decode("utf-8", "replace").strip(),
            "gpu_offload_supported": bool(ll.llama_supports_gpu_offload()),
            "settings": {
                "n_ctx": self.n_ctx,
                "n_batch": s.n_batch,
                "n_ubatch": cparams.n_ubatch,
                "n_threads": self.n_threads,
                "n_threads_batch": self.n_threads_batch,
                "n_gpu_layers": s.n_gpu_layers,
                "flash_attn": s.flash_attn,
                "use_mmap": s.use_mmap,
                # several sequences on one context (batched streams, parallel shapes): each holds
                # n_ctx_seq cells (all n_ctx with one unified KV cache)
                **(
                    {"n_seq_max": self.n_seq, "n_ctx_seq": self.n_ctx_seq, "kv_unified": self.kv_unified}
                    if self.n_seq > 1
                    else {}
                ),
            },
            # an outcome of the settings on this device, not a setting: outside "settings", which
            # --resume, pooling and comparisons match exactly
            "flash_attn_used": flash_attn_used(s.flash_attn),
            "model_load_ms": round(load_ms, 2),
            "rss_after_load_mb": round(rss_after / 2**20, 1),
            "rss_load_delta_mb": round((rss_after - rss_before) / 2**20, 1),
            "model_size_bytes": int(ll.llama_model_size(model)),
            "model_n_params": int(ll.llama_model_n_params(model)),
            "n_vocab": self.n_vocab,
        }

    def close(self) -> None:
        ll = loaded_engine()
        if ll is None:
            return
        if self._ctx:
            ll.llama_free(self._ctx)
            self._ctx = self._mem = None
        if self._model:
            ll.llama_model_free(self._model)
            self._model = None

    # ------------------------------------------------------------------------------------- handles
    def _need(self, handle: Any) -> Any:
        if handle is None:
            raise BackendError("llama.cpp context used before load()")
        return handle

    @property
    def ll(self) -> Any:
        """The llama_cpp module (the C API), once loaded."""
        return self._need(self._ll)

    @property
    def ctx(self) -> Any:
        """The ``llama_context`` handle."""
        return self._need(self._ctx)

    @property
    def model(self) -> Any:
        """The ``llama_model`` handle (chat template, facts)."""
        return self._need(self._model)

    @property
    def vocab(self) -> Any:
        """The ``llama_vocab`` handle (tokenizing, pieces, end-of-generation)."""
        return self._need(self._vocab)

    @property
    def loaded(self) -> bool:
        return self._ctx is not None

    # ------------------------------------------------------------------------------------ KV cache
    def clear_kv(self) -> None:
        """Empty the KV cache of every sequence (an independent request must not reuse a prefix)."""
        self.ll.llama_memory_clear(self._mem, True)
        self._held = []

    def keep_prefix(self, prompt: Sequence[int]) -> int:
        """Keep the longest common token prefix of sequence 0's KV cache and ``prompt`` (at least one
        prompt token is always left to decode: the next token's logits come from it), drop the rest.
        Returns the number of positions kept (0: the cache was cleared)."""
        held = self._held
        limit = min(len(held), len(prompt) - 1)
        common = 0
        while common < limit and held[common] == prompt[common]:
            common += 1
        if common > 0 and self.ll.llama_memory_seq_rm(self._mem, 0, common, -1):
            del held[common:]
            return common
        self.clear_kv()
        return 0

    def cells(self, seq: int) -> int:
        """KV cells sequence ``seq`` holds, read back from llama.cpp (0 when empty)."""
        return int(self.ll.llama_memory_seq_pos_max(self._mem, seq)) + 1

    def drop_sequence(self, seq: int) -> None:
        """Free every KV cell of sequence ``seq``."""
        if not self.ll.llama_memory_seq_rm(self._mem, seq, -1, -1):  # never fails for a whole sequence
            raise BackendError(f"llama.cpp could not free sequence {seq}: {last_engine_error()}")
        if seq == 0:
            self._held = []

    def copy_sequence(self, src: int, dst: int) -> None:
        """Share sequence ``src``'s cells with ``dst`` (no second evaluation: ``-pps``)."""
        self.ll.llama_memory_seq_cp(self._mem, src, dst, -1, -1)

    # ------------------------------------------------------------------------------------ decoding
    def decode_prompt(self, tokens: Sequence[int], start: int = 0, *, what: str = "prompt") -> None:
        """Evaluate ``tokens[start:]`` into sequence 0 after the ``start`` positions it holds (the
        ``keep_prefix`` result), ``n_batch`` at a time, as llama-bench does; then it holds ``tokens``.
        A failed decode clears the cache (its state is unknown) and fails the request."""
        ll, ctx = self.ll, self._ctx
        if start != len(self._held):
            raise BackendError(f"decode_prompt from position {start}, but sequence 0 holds {len(self._held)}")
        n = len(tokens)
        arr = (ctypes.c_int32 * n)(*tokens)
        for pos in range(start, n, self.n_batch):
            k = min(self.n_batch, n - pos)
            rc = ll.llama_decode(
                ctx, ll.llama_batch_get_one(ctypes.cast(ctypes.byref(arr, pos * 4), ll.llama_token_p), k)
            )
            if rc != 0:
                self.clear_kv()
                raise RequestFailed(f"llama_decode failed on the {what} (code {rc}): {last_engine_error()}")
        ll.llama_synchronize(ctx)
        self._held = list(tokens)

    def decode_next(self, token: int) -> None:
        """Feed one generated token back into sequence 0 (its logits give the next token)."""
        ll = self._ll
        one = self._one
        one[0] = token
        rc = ll.llama_decode(self._ctx, ll.llama_batch_get_one(one, 1))
        if rc != 0:
            at = len(self._held)
            self.clear_kv()
            raise RequestFailed(f"llama_decode failed at position {at} (code {rc}): {last_engine_error()}")
        self._held.append(token)

    def synchronize(self) -> None:
        """Wait for the decode calls in flight (GPU back ends run them asynchronously)."""
        self.ll.llama_synchronize(self._ctx)

    # ------------------------------------------------------------------------------ synthetic ids
    def synthetic_prompt(self, n: int, seed: int) -> list[int]:
        """llama-bench's prompt: BOS then random token ids (seeded, so every run decodes the same ids).
        At least one token: a tg-only shape starts from BOS alone, as llama-bench's tg test does."""
        rng = random.Random(seed)
        bos = self.ll.llama_vocab_bos(self._vocab)
        first = [bos] if bos >= 0 else [rng.randrange(self.n_vocab)]
        return first + [rng.randrange(self.n_vocab) for _ in range(n - 1)]

    def random_ids(self, n: int, seed: int) -> list[int]:
        """Seeded random token ids without BOS (llama-bench's prompt after a depth continues a sequence)."""
        rng = random.Random(seed)
        return [rng.randrange(self.n_vocab) for _ in range(n)]

    # ------------------------------------------------------------------------------------ counters
    def reset_counters(self) -> None:
        """Zero llama.cpp's performance counters (at a request's dispatch)."""
        self.ll.llama_perf_context_reset(self._ctx)

    def counters(self) -> dict[str, float]:
        """llama.cpp's own counters since the last reset, as ``engine_timings``."""
        perf = self.ll.llama_perf_context(self._ctx)
        return engine_timings(perf.t_p_eval_ms, perf.n_p_eval, perf.t_eval_ms, perf.n_eval)


# ---------------------------------------------------------------------------------------------- batch
class TokenBatch:
    """A ``llama_batch`` of up to ``capacity`` tokens, each in one sequence, refilled before every decode.

    ``add`` puts one token (the next token of a generating stream, an item of a position-major prompt);
    ``add_run`` puts a contiguous run of one sequence's prompt, at the positions of its indices."""

    def __init__(self, engine: LlamaContext, capacity: int) -> None:
        self._ll = engine.ll
        self._ctx = engine.ctx
        self.capacity = capacity
        self.raw = self._ll.llama_batch_init(capacity, 0, 1)
        b = self.raw
        self._token, self._pos, self._n_seq_id, self._seq_id, self._logits = (
            b.token, b.pos, b.n_seq_id, b.seq_id, b.logits
        )  # fmt: skip
        self.n = 0  # tokens in the batch now

    @property
    def room(self) -> int:
        return self.capacity - self.n

    def clear(self) -> None:
        self.n = 0

    def add(self, token: int, pos: int, seq: int, logits: bool) -> int:
        """Add one token of sequence ``seq`` at position ``pos``; its index in the batch (its logits row
        when ``logits``)."""
        n = self.n
        self._token[n], self._pos[n], self._n_seq_id[n], self._logits[n] = token, pos, 1, logits
        self._seq_id[n][0] = seq
        self.n = n + 1
        return n

    def add_run(self, tokens: Sequence[int], start: int, stop: int, seq: int, *, logits_last: bool) -> int:
        """Add ``tokens[start:stop]`` to sequence ``seq`` at positions ``start..stop-1``; logits for the
        last one only if ``logits_last``. Returns the last token's index in the batch."""
        n = self.n
        token, pos, n_seq_id, seq_id, logits = (
            self._token,
            self._pos,
            self._n_seq_id,
            self._seq_id,
            self._logits,
        )
        for j in range(start, stop):
            token[n], pos[n], n_seq_id[n], logits[n] = tokens[j], j, 1, 0
            seq_id[n][0] = seq
            n += 1
        if logits_last:
            logits[n - 1] = 1
        self.n = n
        return n - 1

    def decode(self) -> int:
        """One ``llama_decode`` over the batch; llama.cpp's return code (0: done)."""
        self.raw.n_tokens = self.n
        return int(self._ll.llama_decode(self._ctx, self.raw))

    def free(self) -> None:
        if self.raw is not None:
            self._ll.llama_batch_free(self.raw)
            self.raw = None


# ---------------------------------------------------------------------------------------- stop strings
class StopScanner:
    """Stop strings over streamed text pieces: what may be shown now, and whether a stop string ended it.

    Text that could be the start of a stop string is held back until later pieces settle it, as
    llama-server holds back a partial stop string in a stream: a stop string split over several tokens
    (``"\\nUs"`` then ``"er:"``) never shows any of its characters, and the answer ends where the earliest
    stop string begins, whatever follows it in the same piece. Held text that no stop string completed is
    shown at the end (``flush``): it is the model's text, not a stop."""

    __slots__ = ("_held", "_stops")

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)  # an empty stop string would end every answer at once
        self._held = ""

    def feed(self, piece: str) -> tuple[str, bool]:
        """(text that can be shown now, whether a stop string was completed)."""
        text = self._held + piece
        cut = min((i for i in (text.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self._held = ""
            return text[:cut], True
        keep = self._partial(text)
        self._held = text[len(text) - keep :]
        return text[: len(text) - keep], False

    def flush(self) -> str:
        """The held text, at the end of a stream that no stop string ended."""
        held, self._held = self._held, ""
        return held

    def _partial(self, text: str) -> int:
        """Length of the longest end of ``text`` that begins some stop string (without completing it):
        any stop string still to come starts inside it, so everything before it can be shown."""
        best = 0
        for s in self._stops:
            for k in range(min(len(s) - 1, len(text)), best, -1):
                if text.endswith(s[:k]):
                    best = k
                    break
        return best


# ---------------------------------------------------------------------------------------------- stream
class TokenStream:
    """One request's output: its sampler chain, a stamp per generated token, its visible text, how it
    ended, and (for batched streams) its share of the decode calls that carried its tokens.

    ``sample(row)`` draws the next token from logits row ``row`` of the last decode (-1: the last row),
    stamps it with ``perf_counter_ns`` the moment it is sampled, and returns it to be fed back, or None
    when the stream ended (``finish``: ``stop`` at end-of-generation or a stop string, ``length`` at
    ``n_gen`` tokens). The end-of-generation token is not counted (as a server's usage)."""

    __slots__ = (
        "_buf", "_chain", "_ctx", "_decoder", "_ll", "_scanner", "_vocab", "content", "eval_ns",
        "eval_tokens", "finish", "ignore_eos", "n_gen", "pieces", "prompt_eval_ns", "prompt_eval_tokens",
        "stamps", "t_dispatch", "t_stop",
    )  # fmt: skip

    def __init__(self, engine: LlamaContext, plan: RequestPlan, t_dispatch: int) -> None:
        self._ll, self._ctx, self._vocab = engine.ll, engine.ctx, engine.vocab
        self._chain = sampler_chain(self._ll, plan.temperature, plan.seed)
        self._buf = ctypes.create_string_buffer(_PIECE_BYTES)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._scanner = StopScanner(plan.stops) if plan.stops else None
        self.t_dispatch = t_dispatch
        self.n_gen = plan.n_gen
        self.ignore_eos = plan.ignore_eos
        self.stamps: list[int] = []  # every generated token
        self.content: list[int] = []  # every time text was shown (a token's, or held text released)
        self.pieces: list[str] = []  # the text shown, piece by piece
        self.finish: str | None = None
        self.t_stop: int | None = None  # when the end-of-generation token was sampled
        self.prompt_eval_ns = self.prompt_eval_tokens = self.eval_ns = self.eval_tokens = 0

    def sample(self, row: int) -> int | None:
        ll = self._ll
        token: int = ll.llama_sampler_sample(self._chain, self._ctx, row)
        t = time.perf_counter_ns()
        if not self.ignore_eos and ll.llama_vocab_is_eog(self._vocab, token):
            self.finish, self.t_stop = "stop", t  # the stream ends when the end token is sampled
            return None
        self.stamps.append(t)
        piece = self._piece(token)
        if piece:
            if self._scanner is None:
                self.content.append(t)
                self.pieces.append(piece)
            else:
                shown, stopped = self._scanner.feed(piece)
                if shown:
                    self.content.append(t)
                    self.pieces.append(shown)
                if stopped:
                    self.finish = "stop"
                    return None
        if len(self.stamps) >= self.n_gen:
            self.finish = "length"
            return None
        return token

    def _piece(self, token: int) -> str:
        buf = self._buf
        n = self._ll.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        if n < 0:  # longer than the buffer: llama.cpp says how long
            buf = self._buf = ctypes.create_string_buffer(-n)
            n = self._ll.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        return self._decoder.decode(buf.raw[:n]) if n > 0 else ""

    def share_prompt(self, tokens: int, ns: int) -> None:
        """This stream's prompt tokens were in a decode call that took ``ns`` (batched streams)."""
        self.prompt_eval_tokens += tokens
        self.prompt_eval_ns += ns

    def share_eval(self, ns: int) -> None:
        """This stream's last token was fed back in a decode call that took ``ns`` (batched streams)."""
        self.eval_tokens += 1
        self.eval_ns += ns

    def shared_timings(self) -> dict[str, float]:
        """``engine_timings`` from this stream's share of the decode calls (``share_*``)."""
        return engine_timings(
            self.prompt_eval_ns / 1e6, self.prompt_eval_tokens, self.eval_ns / 1e6, self.eval_tokens
        )

    def generation(
        self, prompt_tokens: int, timings: dict[str, float], *, finish: str | None = None
    ) -> Generation:
        """What the stream produced, as a ``Generation``. Stream end: when the end-of-generation token
        was sampled (as a server's stream ends), else the last token. Held text (a partial stop string
        the stream ended on) is shown at the end."""
        t_end = self.t_stop or (self.stamps[-1] if self.stamps else time.perf_counter_ns())
        if self._scanner is not None and (rest := self._scanner.flush()):
            self.content.append(t_end)
            self.pieces.append(rest)
        return Generation(
            t_dispatch_ns=self.t_dispatch,
            t_end_ns=t_end,
            # synthetic shapes: every token counts (llama-bench ignores text); text tasks: visible text
            content_ns=self.stamps if self.ignore_eos else self.content,
            text="".join(self.pieces),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(self.stamps),
            token_count_source="engine",
            finish_reason=finish or self.finish or "length",
            engine_timings=timings,
            prefill_source="client",
        )

    def close(self) -> None:
        if self._chain is not None:
            self._ll.llama_sampler_free(self._chain)
            self._chain = None


# ---------------------------------------------------------------------------------------- one sequence
def generate(
    engine: LlamaContext,
    plan: RequestPlan,
    t_dispatch: int,
    progress: ProgressFn | None = None,
    *,
    reuse: bool = False,
) -> Generation:
    """One request on sequence 0: prefill what the KV cache does not hold (all of it unless ``reuse``),
    then sample, stamp and feed back one token at a time. ``extra["cached_tokens"]`` = reused positions.

    Each generated token costs one ``llama_decode``, one native sampler call and one ``token_to_piece``:
    the work llama-bench does, so the rates reported are the engine's, not the binding's."""
    prompt = plan.prompt
    n_prompt = len(prompt)
    if n_prompt >= engine.n_ctx_seq:
        raise RequestFailed(
            f"prompt has {n_prompt} tokens but the context holds {engine.n_ctx_seq}; "
            "raise [llama_cpp] n_ctx in the device profile or shorten the task"
        )
    plan = plan.within(engine.n_ctx_seq)
    if reuse:
        cached = engine.keep_prefix(prompt)
    else:
        engine.clear_kv()
        cached = 0
    engine.reset_counters()
    out = TokenStream(engine, plan, t_dispatch)
    try:
        engine.decode_prompt(prompt, cached)
        if plan.n_gen > 0:
            sample, feed, stamps = out.sample, engine.decode_next, out.stamps
            last_progress = t_dispatch
            while (token := sample(-1)) is not None:
                if progress is not None and stamps[-1] - last_progress >= PROGRESS_EVERY_NS:
                    last_progress = stamps[-1]
                    progress(len(stamps), last_progress - t_dispatch)
                feed(token)
    except RequestFailed as exc:
        exc.partial = out.generation(n_prompt, engine.counters(), finish="error")
        raise
    finally:
        out.close()
    gen = out.generation(n_prompt, engine.counters())
    gen.extra["cached_tokens"] = cached
    return gen
