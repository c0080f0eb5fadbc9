"""In-process llama.cpp through llama-cpp-python's low-level C API, one request at a time.

Why the low-level API: the high-level ``Llama`` object copies every token's logits into a numpy array,
runs its sampler in Python and re-tokenizes for stop checks; a plain loop over it reached only ~0.87 of
llama.cpp's own ``llama-bench`` on a 2-core machine. Here each generated token costs one
``llama_decode``, one native sampler call (greedy at temperature 0) and one ``token_to_piece``: the same
work llama-bench does, so the rates we report are the engine's, not the binding's.

This module turns a task or an agent step into token ids and a ``RequestPlan`` (chat template, plain
completion, synthetic shapes); the engine work itself (context, KV cache, decoding, sampling, stop
strings, engine timings) is ``bench.backends.llama_core``, shared with batched streams and shapes.

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

import time
from typing import Any

from bench.backends.base import ChatRequest, Generation, ProgressFn, RequestFailed
from bench.backends.llama_core import LlamaContext, RequestPlan, generate
from bench.backends.llama_shapes import run_shape
from bench.devices.profiles import LlamaCppSettings
from bench.errors import BackendError
from bench.models.catalog import ResolvedModel
from bench.models.engine import init_engine
from bench.models.tokenizer import PLAIN_STOP, chat_formatter, plain_transcript, tokenize
from bench.suite.loader import Task

__all__ = ["PLAIN_STOP", "LlamaCppBackend"]


class LlamaCppBackend:
    """One model and one context (``engine``), loaded once; ``generate`` runs a request with a cleared
    KV cache, ``chat`` an agent step that may keep the previous step's prefix."""

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
        """``n_seq``: sequences the context holds: 1 for this class's own one-request-at-a-time
        ``generate``; N for ``bench.backends.llama_batch.BatchEngine``, which serves N streams on this
        context, each in ``n_ctx / N`` cells of the KV cache. ``kv_unified``: one KV cache shared by the
        sequences instead (parallel shapes, ``bench.backends.llama_shapes``, as ``llama-batched-bench
        -kvu``), where each sequence may use all ``n_ctx`` cells."""
        self.model_ref = model
        self.settings = settings
        self.engine = LlamaContext(model, settings, threads=threads, n_seq=n_seq, kv_unified=kv_unified)
        self._formatter: Any = None
        self.prompt_format = "chat_template"
        self.template_tools = False

    @property
    def n_seq(self) -> int:
        return self.engine.n_seq

    @property
    def n_ctx(self) -> int:
        return self.engine.n_ctx

    @property
    def n_ctx_seq(self) -> int:
        return self.engine.n_ctx_seq

    # ----------------------------------------------------------------------------------------- load
    def load(self) -> dict[str, Any]:
        facts = self.engine.load()
        ll, engine = init_engine(), self.engine
        self._formatter = chat_formatter(ll, engine.model, engine.vocab)
        self.prompt_format = "chat_template" if self._formatter is not None else "plain_completion"
        template = ll.llama_model_chat_template(engine.model, None) or b""
        self.template_tools = b"tools" in template  # the template renders a tools list (agent tasks)
        return {
            "name": self.name,
            **facts,
            "prompt_format": self.prompt_format,
            "template_supports_tools": self.template_tools,
            "plain_completion_stop": PLAIN_STOP if self.prompt_format == "plain_completion" else None,
        }

    def close(self) -> None:
        self.engine.close()

    # ------------------------------------------------------------------------------------ prompts
    def tokenize(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
        return tokenize(
            init_engine(), self.engine.vocab, text, add_special=add_special, parse_special=parse_special
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
        """llama-bench's prompt: BOS then ``n - 1`` seeded random token ids (BOS alone for n <= 1)."""
        return self.engine.synthetic_prompt(n, seed)

    def plan(self, task: Task) -> RequestPlan:
        """What a task decodes, for this backend's ``generate`` and for batched streams alike: a shape's
        synthetic ids with EOS ignored (a tg-only shape from BOS alone, as llama-bench's tg test), or the
        rendered prompt with its stop strings."""
        if task.shape is not None:
            prompt = self.engine.synthetic_prompt(task.shape.prompt_tokens, task.seed)
            return RequestPlan(prompt, task.shape.gen_tokens, True, (), task.temperature, task.seed)
        prompt, stops = self.render_prompt(task)
        return RequestPlan(prompt, task.max_tokens, False, tuple(stops), task.temperature, task.seed)

    # ----------------------------------------------------------------------------------- generate
    def generate(self, task: Task, *, progress: ProgressFn | None = None) -> Generation:
        if not self.engine.loaded:
            raise BackendError("backend used before load()")
        if task.shape is not None and task.shape.needs_engine:  # at a depth, or parallel sequences
            return run_shape(self.engine, task, progress)
        t_dispatch = time.perf_counter_ns()
        return generate(self.engine, self.plan(task), t_dispatch, progress)

    def native_tools(self) -> bool:
        return self.template_tools

    def chat(self, request: ChatRequest, *, progress: ProgressFn | None = None) -> Generation:
        """One agent step: render, then prefill only what the KV cache does not already hold (when
        ``request.reuse_prefix``), and generate. ``extra["cached_tokens"]`` = reused KV tokens."""
        if not self.engine.loaded:
            raise BackendError("backend used before load()")
        t_dispatch = time.perf_counter_ns()
        prompt, stops = self.render_messages(request.messages, request.tools if self.template_tools else None)
        exact = request.exact_tokens
        if exact is not None:  # a replay of a recorded length: EOS and stop strings ignored
            plan = RequestPlan(prompt, max(exact, 0), True, (), request.temperature, request.seed)
        else:
            plan = RequestPlan(
                prompt, max(request.max_tokens, 0), False, tuple(stops), request.temperature, request.seed
            )
        return generate(self.engine, plan, t_dispatch, progress, reuse=request.reuse_prefix)
