"""The OpenAI wire format: a ``Task`` → a request body, and streamed chunks → text, stamps and counts.

Pure functions and one accumulator, no I/O, so every shape of chunk that servers send in the wild is
tested without a network (see ``tests/backends/test_openai_wire.py``).

Requests. Chat tasks go to ``/chat/completions``; raw prompts and synthetic shapes go to ``/completions``
(``api = "auto"``), or everything goes to one of them (``api = "chat"`` for chat-only hosted models,
``"completions"`` for base models, whose chat tasks become a ``User:/Assistant:`` transcript with stop
``"\\nUser:"`` exactly as the in-process backend renders them). A shape over HTTP is text of about N
tokens (sized exactly with the model's tokenizer where the profile names one); the actual count is what
the record holds.

Chunks. Content is ``choices[0].delta.content`` (chat) or ``choices[0].text`` (completions); reasoning
arrives as ``delta.reasoning_content`` (DeepSeek, llama.cpp, vLLM) or ``delta.reasoning`` (OpenRouter,
newer vLLM) and is kept apart; ``usage`` (with ``completion_tokens_details.reasoning_tokens`` and
``prompt_tokens_details.cached_tokens``) usually comes in a last chunk with empty ``choices``; llama.cpp's
``llama-server`` adds a ``timings`` object. An ``error`` object in a chunk ends the request.

Cache usage (docs/prices.md: each tier is billed at its own rate). OpenAI: ``prompt_tokens_details.
cached_tokens`` (reads; writes are not reported and cost the input rate). Anthropic: ``cache_read_input_
tokens`` and ``cache_creation_input_tokens`` (writes; the 1-hour share in ``cache_creation.ephemeral_1h_
input_tokens``), beside ``prompt_tokens`` or, in its own shape, ``input_tokens`` that *exclude* both.
Gemini's own shape: ``usageMetadata`` with ``promptTokenCount`` (includes ``cachedContentTokenCount``),
``candidatesTokenCount`` and ``thoughtsTokenCount``. Every shape becomes OpenAI's convention: prompt
tokens include cache reads and writes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from bench.backends.base import ChatRequest
from bench.backends.http.wire_format import ChunkError, RequestPlan, UsageCounts, check_usage, token_count
from bench.devices.http_settings import HttpSettings
from bench.models.tokenizer import PLAIN_STOP, GgufTokenizer, plain_transcript
from bench.suite.loader import Task

__all__ = [
    "OPENAI",
    "ChunkError",
    "OpenAIWire",
    "RequestPlan",
    "StreamState",
    "build_chat_request",
    "build_request",
    "error_body_message",
    "shape_text",
]

# Common short English words: with a leading space each is one token in the BPE vocabularies of the
# Llama, Qwen, Gemma, SmolLM and GPT families, so N words ≈ N tokens even without a tokenizer.
# fmt: off
_WORDS = [
    "the", "of", "and", "to", "in", "is", "was", "for", "on", "are", "with", "as", "at", "be", "by",
    "this", "had", "not", "but", "from", "or", "have", "an", "they", "which", "one", "you", "were",
    "her", "all", "she", "there", "would", "their", "we", "him", "been", "has", "when", "who", "will",
    "more", "no", "if", "out", "so", "said", "what", "up", "its", "about", "into", "than", "them",
    "can", "only", "other", "new", "some", "could", "time", "these", "two", "may", "then", "do",
    "first", "any", "my", "now", "such", "like", "our", "over", "man", "me", "even", "most", "made",
    "after", "also", "did", "many", "before", "must", "through", "back", "years", "where", "much",
    "your", "way", "well", "down", "should", "because", "each", "just", "those", "people", "how",
    "too", "little", "state", "good", "very", "make", "world", "still", "own", "see", "men", "work",
    "long", "get", "here", "between", "both", "life", "being", "under", "never", "day", "same",
    "another", "know",
]
# fmt: on


def shape_text(n_tokens: int, seed: int, tokenizer: GgufTokenizer | None) -> str:
    """Seeded text of about ``n_tokens`` tokens (exactly, as a completion prompt, given a tokenizer)."""
    rng = random.Random(seed)
    n = max(n_tokens, 1)
    words = [rng.choice(_WORDS) for _ in range(n + 64)]
    if tokenizer is None:
        return " ".join(words[:n])
    count = n
    for _ in range(8):  # converge: each step corrects by the measured surplus or shortfall
        text = " ".join(words[:count])
        got = tokenizer.count_prompt(text)
        if got == n or count <= 1:
            return text
        count = max(1, min(len(words), count + (n - got)))
    return " ".join(words[:count])


def build_request(
    task: Task,
    model: str,
    settings: HttpSettings,
    *,
    tokenizer: GgufTokenizer | None = None,
    plain_chat: bool = False,
) -> RequestPlan:
    """The request for one task. ``plain_chat``: the model has no chat template (send a transcript)."""
    messages: list[dict[str, str]] | None = None
    prompt: str | None = None
    stops: list[str] = []
    fmt = "chat"
    if task.shape is not None:
        prompt, fmt = shape_text(task.shape.prompt_tokens, task.seed, tokenizer), "shape_text"
    elif task.prompt is not None:
        prompt, fmt = task.prompt, "completion"
    else:
        assert task.messages is not None
        messages = [m.model_dump() for m in task.messages]
    use_chat = settings.api == "chat" or (settings.api == "auto" and messages is not None and not plain_chat)
    if use_chat and messages is None:
        messages = [{"role": "user", "content": prompt or ""}]
        prompt = None
    elif not use_chat and messages is not None:
        prompt, messages, fmt = plain_transcript(messages), None, "plain_completion"
        stops = [PLAIN_STOP]
    stops += [s for s in task.stop or [] if s not in stops]  # the task's own (HumanEval completion)
    body: dict[str, Any] = {"model": model}
    if messages is not None:
        body["messages"] = messages
    else:
        body["prompt"] = prompt
    if stops:
        body["stop"] = stops
    exact = task.shape.gen_tokens if task.shape is not None else None
    _finish_body(body, settings, task.generation_limit, task.temperature, task.seed, exact)
    return RequestPlan(
        path="/chat/completions" if messages is not None else "/completions",
        body=body,
        prompt_format=fmt,
        messages=messages,
        prompt=prompt,
        stops=stops,
    )


def build_chat_request(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    model: str,
    settings: HttpSettings,
    *,
    max_tokens: int,
    temperature: float,
    seed: int,
    exact_tokens: int | None = None,
) -> RequestPlan:
    """One agent step as a chat-completions request with native ``tools`` / ``tool_choice: auto``.
    ``exact_tokens`` (trace replay): ask for exactly that many tokens, end-of-generation ignored where
    the profile says how (``shape_eos``)."""
    body: dict[str, Any] = {"model": model, "messages": messages}
    if tools:
        body["tools"] = tools
        body["tool_choice"] = "auto"
    limit = exact_tokens if exact_tokens is not None else max_tokens
    _finish_body(body, settings, limit, temperature, seed, exact_tokens)
    return RequestPlan(
        path="/chat/completions", body=body, prompt_format="chat", messages=messages, prompt=None, stops=[]
    )


def _finish_body(
    body: dict[str, Any],
    settings: HttpSettings,
    max_tokens: int,
    temperature: float,
    seed: int,
    exact_tokens: int | None,
) -> None:
    """What every request body shares: limits, sampling, streaming, and the profile's own edits last
    (``extra_body`` may set anything; ``omit_params`` removes what an endpoint rejects). ``exact_tokens``:
    a synthetic shape or a trace step wants exactly that many tokens, end-of-generation ignored the way
    the profile says (``shape_eos``)."""
    body[settings.max_tokens_field] = max_tokens
    body["temperature"] = temperature
    body["seed"] = seed
    if exact_tokens is not None and settings.shape_eos == "ignore_eos":
        body["ignore_eos"] = True
    elif exact_tokens is not None and settings.shape_eos == "min_tokens":
        body["min_tokens"] = exact_tokens
    body["stream"] = True
    if settings.stream_usage:
        body["stream_options"] = {"include_usage": True}
    body.update(settings.extra_body)
    for name in settings.omit_params:
        body.pop(name, None)


@dataclass
class StreamState:
    """Everything one streamed response delivered, accumulated chunk by chunk."""

    pieces: list[str] = field(default_factory=list)
    content_ns: list[int] = field(default_factory=list)
    reasoning_chunks: int = 0
    first_reasoning_ns: int | None = None
    n_frames: int = 0
    finish_reason: str | None = None
    finish_ns: int | None = None  # arrival of the chunk that carried finish_reason
    usage: dict[str, Any] | None = None
    timings: dict[str, float] | None = None
    server_model: str | None = None
    done: bool = False  # saw data: [DONE]
    n_choice_frames: int = 0  # frames that carried a non-empty ``choices`` list
    # native tool calls, reassembled from streamed deltas by their index: {index: {id, name, arguments}}
    tool_parts: dict[int, dict[str, str]] = field(default_factory=dict)
    tool_ns: list[int] = field(default_factory=list)  # arrival of each tool-call delta

    def feed(self, data: str, t_ns: int, event: str = "message") -> None:
        """One SSE data payload received at ``t_ns``; raises ``ChunkError`` for a fatal chunk."""
        if event == "error":
            raise ChunkError(f"server error event in stream: {data[:200]}")
        if data == "[DONE]":
            self.done = True
            return
        self.n_frames += 1
        try:
            obj = json.loads(data)
        except ValueError:
            raise ChunkError(f"malformed JSON in stream frame {self.n_frames}: {data[:80]!r}") from None
        if not isinstance(obj, dict):
            raise ChunkError(f"stream frame {self.n_frames} is not a JSON object: {data[:80]!r}")
        if obj.get("error") is not None:
            err = obj["error"]
            msg = err.get("message") if isinstance(err, dict) else err
            raise ChunkError(f"server error in stream: {str(msg)[:200]}")
        choices = obj.get("choices")
        if choices and isinstance(choices, list) and isinstance(choices[0], dict):
            self.n_choice_frames += 1
            choice = choices[0]
            delta = choice.get("delta")
            if delta is None:
                delta = choice.get("message")  # a server that answered a stream request in one piece
            if delta is not None:
                text = delta.get("content")
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            else:
                text = choice.get("text")
                reasoning = None
            if text:
                self.pieces.append(text)
                self.content_ns.append(t_ns)
            if delta is not None and delta.get("tool_calls"):
                self._feed_tool_calls(delta["tool_calls"], t_ns)
            if reasoning:
                self.reasoning_chunks += 1
                if self.first_reasoning_ns is None:
                    self.first_reasoning_ns = t_ns
            if choice.get("finish_reason") and self.finish_reason is None:
                self.finish_reason = choice["finish_reason"]
                self.finish_ns = t_ns
        usage = obj.get("usage") or obj.get("usageMetadata")
        if isinstance(usage, dict) and usage:
            check_usage(usage, f"stream frame {self.n_frames}: usage")
            self.usage = usage
        timings = obj.get("timings")
        if isinstance(timings, dict):
            self.timings = {k: float(v) for k, v in timings.items() if isinstance(v, int | float)}
        if self.server_model is None and isinstance(obj.get("model"), str):
            self.server_model = obj["model"]

    def _feed_tool_calls(self, calls: Any, t_ns: int) -> None:
        """OpenAI streams a tool call as deltas: the first names it (id, function.name), the rest append
        pieces of ``function.arguments``; ``index`` says which call a delta belongs to."""
        if not isinstance(calls, list):
            raise ChunkError(f"stream frame {self.n_frames}: tool_calls is not a list")
        for pos, call in enumerate(calls):
            if not isinstance(call, dict):
                raise ChunkError(f"stream frame {self.n_frames}: a tool_calls entry is not an object")
            index = call.get("index", pos)
            if not isinstance(index, int) or isinstance(index, bool):
                raise ChunkError(f"stream frame {self.n_frames}: tool call index is not an integer")
            part = self.tool_parts.setdefault(index, {"id": "", "name": "", "arguments": ""})
            if isinstance(call.get("id"), str):
                part["id"] = call["id"]
            fn = call.get("function") or {}
            if isinstance(fn, dict):
                if isinstance(fn.get("name"), str):
                    part["name"] += fn["name"]
                if isinstance(fn.get("arguments"), str):
                    part["arguments"] += fn["arguments"]
                elif isinstance(fn.get("arguments"), dict):  # a server that sends parsed arguments
                    part["arguments"] += json.dumps(fn["arguments"])
        self.tool_ns.append(t_ns)

    @property
    def tool_calls(self) -> list[dict[str, str]]:
        return [self.tool_parts[i] for i in sorted(self.tool_parts)]

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def usage_counts(self) -> tuple[int | None, int | None, int | None, int | None]:
        """(prompt, visible completion, reasoning, cached) tokens from ``usage``, where it was sent.

        OpenAI counts hidden reasoning inside ``completion_tokens``; the visible count (what TPOT and the
        decode rate are computed over, docs/http.md) is the difference.
        """
        u = self.usage or {}
        if "promptTokenCount" in u:  # Gemini's usageMetadata: thoughts are apart from candidates
            cached = token_count(u.get("cachedContentTokenCount"))
            return (
                token_count(u.get("promptTokenCount")),
                token_count(u.get("candidatesTokenCount")),
                token_count(u.get("thoughtsTokenCount")),
                cached,
            )
        prompt = token_count(u.get("prompt_tokens"))
        completion = token_count(u.get("completion_tokens"))
        details = u.get("completion_tokens_details") or {}
        reasoning = token_count(details.get("reasoning_tokens")) if isinstance(details, dict) else None
        pdetails = u.get("prompt_tokens_details") or {}
        cached = token_count(pdetails.get("cached_tokens")) if isinstance(pdetails, dict) else None
        read = token_count(u.get("cache_read_input_tokens"))
        if cached is None and read is not None:
            cached = read
        if prompt is None and token_count(u.get("input_tokens")) is not None:  # Anthropic's own shape
            write, _ = self.cache_write_counts()
            prompt = (token_count(u.get("input_tokens")) or 0) + (read or 0) + (write or 0)
            completion = token_count(u.get("output_tokens"))
        if cached is None and self.timings and "cache_n" in self.timings:
            cached = int(self.timings["cache_n"])
        if completion is not None and reasoning:
            completion = max(0, completion - reasoning)
        return prompt, completion, reasoning, cached

    def cache_write_counts(self) -> tuple[int | None, int | None]:
        """(cache-write tokens, their 1-hour-TTL share) where the API reports writes (Anthropic)."""
        u = self.usage or {}
        write = token_count(u.get("cache_creation_input_tokens"))
        detail = u.get("cache_creation")
        one_hour = token_count(detail.get("ephemeral_1h_input_tokens")) if isinstance(detail, dict) else None
        if write is None and isinstance(detail, dict):
            parts = [token_count(v) for v in detail.values()]
            write = sum(v for v in parts if v is not None) if any(v is not None for v in parts) else None
        return write, one_hour

    def counts(self) -> UsageCounts:
        prompt, completion, reasoning, cached = self.usage_counts()
        write, write_1h = self.cache_write_counts()
        return UsageCounts(prompt, completion, reasoning, cached, write, write_1h)

    def feed_body(self, raw: bytes, t_ns: int) -> None:
        self.feed(raw.decode("utf-8", "replace"), t_ns)
        self.done = True
        if not self.n_choice_frames:  # 200 but not a completion: the endpoint's fault
            raise ChunkError(f"HTTP 200 answer has no 'choices' (not a completion): {raw[:120]!r}")

    def end_problem(self) -> tuple[str, bool] | None:
        if self.done and not self.n_choice_frames:
            return "stream carried no 'choices' in any frame (not a completion)", False
        if not (self.done or self.finish_reason):
            return "stream ended without [DONE] or a finish_reason (cut?)", not self.content_ns
        return None


class OpenAIWire:
    """The ``openai_http`` backend's wire format (``bench.backends.http.wire_format.WireFormat``)."""

    backend = "openai_http"
    engine = "openai-compatible HTTP endpoint"
    prompt_format = "chat_template"
    text_completions = True

    def headers(self, key: str | None, settings: HttpSettings) -> dict[str, str]:
        return {settings.auth_header: f"{settings.auth_scheme} {key}".strip()} if key else {}

    def request(
        self, task: Task, model: str, settings: HttpSettings, *, tokenizer: GgufTokenizer | None,
        plain_chat: bool,
    ) -> RequestPlan:  # fmt: skip
        return build_request(task, model, settings, tokenizer=tokenizer, plain_chat=plain_chat)

    def chat_request(self, request: ChatRequest, model: str, settings: HttpSettings) -> RequestPlan:
        return build_chat_request(
            request.messages,
            request.tools,
            model,
            settings,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            seed=request.seed,
            exact_tokens=request.exact_tokens,
        )

    def new_stream(self) -> StreamState:
        return StreamState()

    def error_message(self, body: bytes) -> str:
        return error_body_message(body)


OPENAI = OpenAIWire()


def error_body_message(raw: bytes) -> str:
    """The human part of an error response body (OpenAI: ``{"error": {"message": ...}}``)."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        obj = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(obj, dict):
        err = obj.get("error", obj.get("detail", obj))
        if isinstance(err, dict):
            err = err.get("message") or err
        return str(err)[:200]
    return text[:200]
