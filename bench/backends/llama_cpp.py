"""In-process llama.cpp through llama-cpp-python's low-level C API.

Why the low-level API: the high-level ``Llama`` object copies every token's logits into a numpy array,
runs its sampler in Python and re-tokenizes for stop checks; a plain loop over it reached only ~0.87 of
llama.cpp's own ``llama-bench`` on a 2-core machine. Here each generated token costs one
``llama_decode``, one native sampler call (greedy at temperature 0) and one ``token_to_piece``: the same
work llama-bench does, so the rates we report are the engine's, not the binding's.

Measurement rules (docs/metrics.md, "Measuring llama.cpp honestly"):

- the KV cache is cleared before every request: llama.cpp reuses a cached prefix otherwise, and a
  repeated prompt then shows a near-zero TTFT;
- the dispatch stamp is taken before chat templating and tokenization (a server does that work too);
  every token is stamped with ``perf_counter_ns`` right after it is sampled;
- models without a chat template (base models such as Gemma 3 270M) run as plain completion over a
  ``User:/Assistant:`` transcript with stop string ``"\\nUser:"``, and the manifest says so;
- synthetic shapes use seeded random token ids (as llama-bench does) and ignore EOS.
"""

from __future__ import annotations

import codecs
import ctypes
import random
import time
from typing import Any

import psutil

from bench.backends.base import ChatRequest, Generation, ProgressFn, RequestFailed
from bench.devices.profiles import LlamaCppSettings, default_threads
from bench.errors import BackendError
from bench.models.catalog import ResolvedModel
from bench.models.engine import (
    FLASH_ATTN_LOG,
    flash_attn_used,
    init_engine,
    last_engine_error,
    loaded_engine,
    sampler_chain,
)
from bench.models.tokenizer import PLAIN_STOP, chat_formatter, plain_transcript, tokenize
from bench.suite.loader import Task

__all__ = ["PLAIN_STOP", "LlamaCppBackend"]

_PROGRESS_EVERY_NS = 100_000_000  # progress callback at most 10 times per second


class LlamaCppBackend:
    """One model and one context, loaded once; ``generate`` runs a request with a cleared KV cache."""

    name = "llama_cpp"

    def __init__(
        self,
        model: ResolvedModel,
        settings: LlamaCppSettings,
        *,
        threads: int | None = None,
        n_seq: int = 1,
        kv_unified: bool = False,
    ) -> None:
        """``n_seq``: sequences the context holds (llama.cpp's ``n_seq_max``): 1 for this class's own
        one-request-at-a-time ``generate``; N for ``bench.backends.llama_batch.BatchEngine``, which
        serves N streams on this context, each in ``n_ctx / N`` cells of the KV cache. ``kv_unified``:
        one KV cache shared by the sequences instead (parallel shapes, ``bench.backends.llama_shapes``,
        as ``llama-batched-bench -kvu``), where each sequence may use all ``n_ctx`` cells."""
        self.model_ref = model
        self.kv_unified = kv_unified
        self.settings = settings
        self.n_threads = threads or settings.n_threads or default_threads()
        self.n_threads_batch = settings.n_threads_batch or self.n_threads
        self.n_seq = n_seq
        self.n_ctx_seq = 0  # KV cells per sequence: n_ctx, or n_ctx / n_seq (padded) when n_seq > 1
        self._model: Any = None
        self._ctx: Any = None
        self._vocab: Any = None
        self._formatter: Any = None
        self.prompt_format = "chat_template"
        self.n_ctx = 0
        self.n_vocab = 0
        self.template_tools = False
        self._kv: list[int] = []  # the token ids whose KV the context holds (prefix reuse in agent tasks)
        self._piece_buf = ctypes.create_string_buffer(256)
        self._one = (ctypes.c_int32 * 1)()

    # ----------------------------------------------------------------------------------------- load
    def load(self) -> dict[str, Any]:
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
        self._model, self._ctx = model, ctx
        self._vocab = ll.llama_model_get_vocab(model)
        self.n_ctx = ll.llama_n_ctx(ctx)
        self.n_ctx_seq = ll.llama_n_ctx_seq(ctx)
        self.n_vocab = ll.llama_vocab_n_tokens(self._vocab)
        self._formatter = chat_formatter(ll, model, self._vocab)
        self.prompt_format = "chat_template" if self._formatter is not None else "plain_completion"
        template = ll.llama_model_chat_template(model, None) or b""
        self.template_tools = b"tools" in template  # the template renders a tools list (agent tasks)
        rss_after = psutil.Process().memory_info().rss
        return {
            "name": self.name,
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
                # several sequences on one context (bench.backends.llama_batch, llama_shapes): each
                # holds n_ctx_seq cells (all n_ctx with one unified KV cache)
                **(
                    {"n_seq_max": self.n_seq, "n_ctx_seq": self.n_ctx_seq, "kv_unified": self.kv_unified}
                    if self.n_seq > 1
                    else {}
                ),
            },
            # an outcome of the settings on this device, not a setting: outside "settings", which
            # --resume, pooling and comparisons match exactly
            "flash_attn_used": flash_attn_used(s.flash_attn),
            "prompt_format": self.prompt_format,
            "template_supports_tools": self.template_tools,
            "plain_completion_stop": PLAIN_STOP if self.prompt_format == "plain_completion" else None,
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
            self._ctx = None
        if self._model:
            ll.llama_model_free(self._model)
            self._model = None

    def handles(self) -> tuple[Any, Any]:
        """The loaded llama.cpp context and vocab, for ``BatchEngine`` (which drives this context)."""
        if self._ctx is None:
            raise BackendError("backend used before load()")
        return self._ctx, self._vocab

    # ------------------------------------------------------------------------------------ helpers
    def tokenize(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
        return tokenize(
            init_engine(), self._vocab, text, add_special=add_special, parse_special=parse_special
        )

    def render_prompt(self, task: Task) -> tuple[list[int], list[str]]:
        """Token ids for a text task, and the stop strings that end its answer."""
        if task.prompt is not None:
            return self.tokenize(task.prompt, add_special=True, parse_special=False), list(task.stop or [])
        assert task.messages is not None
        ids, stops = self.render_messages([m.model_dump() for m in task.messages])
        return ids, stops + [s for s in task.stop or [] if s not in stops]

    def render_messages(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> tuple[list[int], list[str]]:
        """Chat messages (and, where the template renders them, tools) → token ids and stop strings."""
        if self._formatter is not None:
            try:
                result = (
                    self._formatter(messages=messages, tools=tools)
                    if tools
                    else self._formatter(messages=messages)
                )
            except Exception as exc:  # a template that rejects these messages fails this request only
                raise RequestFailed(f"chat template failed: {exc}") from None
            ids = self.tokenize(result.prompt, add_special=not result.added_special, parse_special=True)
            return ids, []
        plain = [{"role": m["role"], "content": str(m.get("content") or "")} for m in messages]
        ids = self.tokenize(plain_transcript(plain), add_special=True, parse_special=False)
        return ids, [PLAIN_STOP]

    def synthetic_prompt(self, n: int, seed: int) -> list[int]:
        """llama-bench's prompt: BOS then random token ids (seeded, so every run decodes the same ids)."""
        if n <= 0:
            return []
        rng = random.Random(seed)
        bos = init_engine().llama_vocab_bos(self._vocab)
        first = [bos] if bos >= 0 else [rng.randrange(self.n_vocab)]
        return first + [rng.randrange(self.n_vocab) for _ in range(n - 1)]

    # ----------------------------------------------------------------------------------- generate
    def generate(self, task: Task, *, progress: ProgressFn | None = None) -> Generation:
        if self._ctx is None:
            raise BackendError("backend used before load()")
        if task.shape is not None and task.shape.needs_engine:  # at a depth, or parallel sequences
            from bench.backends.llama_shapes import run_shape

            return run_shape(self, task, progress)
        t_dispatch = time.perf_counter_ns()
        stops: list[str] = []
        if task.shape is not None:
            prompt = self.synthetic_prompt(task.shape.prompt_tokens, task.seed)
            if not prompt:  # tg-only shape: a BOS-only prompt, as llama-bench's tg test starts
                prompt = self.synthetic_prompt(1, task.seed)
            n_gen, ignore_eos = task.shape.gen_tokens, True
        else:
            prompt, stops = self.render_prompt(task)
            n_gen, ignore_eos = task.max_tokens, False
        return self._run(
            prompt, n_gen, ignore_eos, stops, task.temperature, task.seed, progress, t_dispatch, reuse=False
        )

    def native_tools(self) -> bool:
        return self.template_tools

    def chat(self, request: ChatRequest, *, progress: ProgressFn | None = None) -> Generation:
        """One agent step: render, then prefill only what the KV cache does not already hold (when
        ``request.reuse_prefix``), and generate. ``extra["cached_tokens"]`` = reused KV tokens."""
        if self._ctx is None:
            raise BackendError("backend used before load()")
        t_dispatch = time.perf_counter_ns()
        prompt, stops = self.render_messages(request.messages, request.tools if self.template_tools else None)
        exact = request.exact_tokens
        n_gen, ignore_eos = (exact, True) if exact is not None else (request.max_tokens, False)
        return self._run(
            prompt,
            max(n_gen, 0),
            ignore_eos,
            [] if exact is not None else stops,
            request.temperature,
            request.seed,
            progress,
            t_dispatch,
            reuse=request.reuse_prefix,
        )

    def _reuse(self, ll: Any, prompt: list[int], reuse: bool) -> int:
        """Keep the longest common token prefix of the KV cache and ``prompt`` (at least one prompt
        token is always decoded: the next token's logits come from it); drop the rest. Returns the number
        of reused positions (0: the cache was cleared)."""
        mem = ll.llama_get_memory(self._ctx)
        common = 0
        if reuse:
            held = self._kv
            limit = min(len(held), len(prompt) - 1)
            while common < limit and held[common] == prompt[common]:
                common += 1
        if common > 0 and ll.llama_memory_seq_rm(mem, 0, common, -1):
            self._kv = self._kv[:common]
            return common
        ll.llama_memory_clear(mem, True)
        self._kv = []
        return 0

    def _run(
        self,
        prompt: list[int],
        n_gen: int,
        ignore_eos: bool,
        stops: list[str],
        temperature: float,
        seed: int,
        progress: ProgressFn | None,
        t_dispatch: int,
        *,
        reuse: bool,
    ) -> Generation:
        ll = init_engine()
        n_prompt = len(prompt)
        if n_prompt >= self.n_ctx:
            raise RequestFailed(
                f"prompt has {n_prompt} tokens but the context holds {self.n_ctx}; "
                "raise [llama_cpp] n_ctx in the device profile or shorten the task"
            )
        n_gen = min(n_gen, self.n_ctx - n_prompt)
        ctx, vocab = self._ctx, self._vocab
        cached = self._reuse(ll, prompt, reuse)
        ll.llama_perf_context_reset(ctx)
        chain = sampler_chain(ll, temperature, seed)
        stamps: list[int] = []  # every generated token
        content: list[int] = []  # tokens that added visible text
        pieces: list[str] = []
        decoded: list[int] = []  # generated tokens fed back into the KV cache
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        finish = "length"
        t_stop: int | None = None
        try:
            n_batch = self.settings.n_batch
            arr = (ctypes.c_int32 * n_prompt)(*prompt)
            for start in range(cached, n_prompt, n_batch):
                n = min(n_batch, n_prompt - start)
                batch = ll.llama_batch_get_one(ctypes.cast(ctypes.byref(arr, start * 4), ll.llama_token_p), n)
                rc = ll.llama_decode(ctx, batch)
                if rc != 0:  # the except below clears the KV bookkeeping
                    raise RequestFailed(
                        f"llama_decode failed on the prompt (code {rc}): {last_engine_error()}"
                    )
            self._kv = list(prompt)
            one, buf = self._one, self._piece_buf
            sample, decode, to_piece = ll.llama_sampler_sample, ll.llama_decode, ll.llama_token_to_piece
            is_eog, batch_one, now = ll.llama_vocab_is_eog, ll.llama_batch_get_one, time.perf_counter_ns
            last_progress = t_dispatch
            text_tail = ""
            for i in range(n_gen):
                token = sample(chain, ctx, -1)
                t = now()
                if not ignore_eos and is_eog(vocab, token):
                    finish, t_stop = "stop", t  # the stream ends when the end token is sampled
                    break
                stamps.append(t)
                n_bytes = to_piece(vocab, token, buf, 256, 0, False)
                piece = decoder.decode(buf.raw[:n_bytes]) if n_bytes > 0 else ""
                if piece:
                    content.append(t)
                    pieces.append(piece)
                    if stops:
                        text_tail = (text_tail + piece)[-64:]
                        if any(s in text_tail for s in stops):
                            finish = "stop"
                            break
                if progress is not None and t - last_progress >= _PROGRESS_EVERY_NS:
                    last_progress = t
                    progress(len(stamps), t - t_dispatch)
                if i + 1 == n_gen:
                    break
                one[0] = token
                rc = decode(ctx, batch_one(one, 1))
                if rc != 0:
                    raise RequestFailed(
                        f"llama_decode failed at token {i + 1} (code {rc}): {last_engine_error()}"
                    )
                decoded.append(token)
            self._kv.extend(decoded)
        except RequestFailed as exc:
            self._kv = []  # unknown state: the next call starts cold
            exc.partial = self._generation(
                t_dispatch, stamps, content, pieces, stops, n_prompt, "error", ignore_eos
            )
            raise
        finally:
            ll.llama_sampler_free(chain)
        gen = self._generation(
            t_dispatch, stamps, content, pieces, stops, n_prompt, finish, ignore_eos, t_stop=t_stop
        )
        gen.extra["cached_tokens"] = cached
        return gen

    def _generation(
        self,
        t_dispatch: int,
        stamps: list[int],
        content: list[int],
        pieces: list[str],
        stops: list[str],
        n_prompt: int,
        finish: str,
        synthetic: bool,
        t_stop: int | None = None,
    ) -> Generation:
        # Stream end: when the end-of-generation token was sampled (as a server's stream ends), else the
        # last token. The end token itself is not counted, as in a server's usage.
        t_end = t_stop or (stamps[-1] if stamps else time.perf_counter_ns())
        text = "".join(pieces)
        completion = len(stamps)
        if stops and finish == "stop":
            for s in stops:
                cut = text.find(s)
                if cut >= 0:
                    text = text[:cut]
        perf = init_engine().llama_perf_context(self._ctx)
        timings = {
            "prompt_eval_ms": round(perf.t_p_eval_ms, 3),
            "prompt_eval_tokens": float(perf.n_p_eval),
            "eval_ms": round(perf.t_eval_ms, 3),
            "eval_tokens": float(perf.n_eval),
        }
        return Generation(
            t_dispatch_ns=t_dispatch,
            t_end_ns=t_end,
            # synthetic shapes: every token counts (llama-bench ignores text); text tasks: visible tokens
            content_ns=stamps if synthetic else content,
            text=text,
            prompt_tokens=n_prompt,
            completion_tokens=completion,
            token_count_source="engine",
            finish_reason=finish,
            engine_timings=timings,
            prefill_source="client",
        )
