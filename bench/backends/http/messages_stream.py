"""Anthropic's streamed Messages response, event by event → text, tool calls, thinking, stop reason, usage.

Events (https://docs.anthropic.com/en/docs/build-with-claude/streaming): ``message_start`` (the message
with ``usage``: input tokens *excluding* cache reads and writes, ``cache_read_input_tokens``,
``cache_creation_input_tokens`` and its ``cache_creation`` split by TTL), then per content block
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``input_json_delta``, ``thinking_delta``,
``signature_delta``, ``citations_delta``) / ``content_block_stop``, then ``message_delta`` (the stop reason
and cumulative usage: a count it carries replaces the one from ``message_start``, one it omits keeps
it, as the SDK's accumulator does), ``message_stop``; ``ping`` at any time; ``error`` instead of the rest.

What the records get: visible text only from ``text_delta`` (its arrivals are the content stamps TTFT is
taken from); thinking apart (its first arrival is ``first_reasoning_ns``), billed as output; a tool call's
``input_json_delta`` pieces joined and parsed at its ``content_block_stop``. The prompt count follows
OpenAI's convention (``UsageCounts``): input + cache reads + cache writes. Thinking tokens are
``usage.output_tokens_details.thinking_tokens`` where sent; otherwise output tokens are split between
thinking and the rest by characters (the bill is the same: both are output).

Faults: an ``error`` event (overloaded_error, api_error, rate_limit_error: resendable if nothing had
arrived), malformed JSON, a delta for a block never started, tool input that does not add up to a JSON
object, and a stream that ends before ``message_stop`` each end the request as an error record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.backends.http.wire_format import ChunkError, UsageCounts, check_usage, token_count

__all__ = ["BUSY_ERRORS", "MessagesStream", "describe_error"]

# error types that say "busy, try again", not "this request is wrong"
BUSY_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error"})


def describe_error(obj: Any) -> tuple[str, str]:
    """(type, message) of an Anthropic error object ``{"type": "error", "error": {"type", "message"}}``."""
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(err, dict):
        return "error", str(obj)[:200]
    return str(err.get("type") or "error"), str(err.get("message") or "")[:200]


@dataclass
class _Block:
    """One content block as it streams in."""

    type: str
    id: str = ""
    name: str = ""
    parts: list[str] = field(default_factory=list)  # text, input JSON, or thinking pieces
    signature: str = ""
    data: str = ""  # redacted_thinking
    arguments: str | None = None  # tool_use: the joined input JSON, once the block stopped

    def as_param(self) -> dict[str, Any] | None:
        """A thinking block as the API wants it back in the next request of a tool-use loop."""
        if self.type == "thinking":
            return {"type": "thinking", "thinking": "".join(self.parts), "signature": self.signature}
        if self.type == "redacted_thinking":
            return {"type": "redacted_thinking", "data": self.data}
        return None


@dataclass
class MessagesStream:
    """Everything one streamed Messages response delivered (``wire_format.StreamAccumulator``).

    ``on_complete`` is called once the response is whole (``message_stop``): the wire format keeps the
    thinking blocks that preceded tool calls there, to send them back with the tool results."""

    on_complete: Callable[[MessagesStream], None] | None = None
    pieces: list[str] = field(default_factory=list)
    content_ns: list[int] = field(default_factory=list)
    tool_ns: list[int] = field(default_factory=list)
    first_reasoning_ns: int | None = None
    reasoning_chunks: int = 0
    finish_reason: str | None = None
    finish_ns: int | None = None
    timings: dict[str, float] | None = None
    server_model: str | None = None
    done: bool = False
    started: bool = False
    n_events: int = 0
    pings: int = 0
    blocks: dict[int, _Block] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------- events
    def feed(self, data: str, t_ns: int, event: str = "message") -> None:
        if event == "ping":
            self.pings += 1
            return
        self.n_events += 1
        try:
            obj = json.loads(data)
        except ValueError:
            raise ChunkError(
                f"malformed JSON in stream event {self.n_events} ({event}): {data[:80]!r}"
            ) from None
        if not isinstance(obj, dict):
            raise ChunkError(f"stream event {self.n_events} ({event}) is not a JSON object: {data[:80]!r}")
        kind = obj.get("type")
        if kind == "content_block_delta":  # the hot path: most events are deltas
            self._delta(obj, t_ns)
        elif kind == "content_block_start":
            self._block_start(obj, t_ns)
        elif kind == "content_block_stop":
            self._block_stop(self._block(obj))
        elif kind == "message_start":
            self._message_start(obj)
        elif kind == "message_delta":
            self._message_delta(obj, t_ns)
        elif kind == "message_stop":
            self._finish()
        elif kind == "error" or event == "error":
            etype, message = describe_error(obj)
            raise ChunkError(
                f"stream error event: {etype}: {message}",
                retryable=etype in BUSY_ERRORS,
            )
        elif kind == "ping":
            self.pings += 1
        # other event types are new to this client: ignored, as the API's versioning policy asks

    def _block(self, obj: dict[str, Any]) -> _Block:
        index = obj.get("index")
        block = self.blocks.get(index) if isinstance(index, int) else None
        if block is None:
            raise ChunkError(
                f"stream event {self.n_events} ({obj.get('type')}) names content block {index!r}, "
                "which was never started"
            )
        return block

    def _delta(self, obj: dict[str, Any], t_ns: int) -> None:
        block = self._block(obj)
        delta = obj.get("delta")
        if not isinstance(delta, dict):
            raise ChunkError(f"stream event {self.n_events}: content_block_delta without a delta object")
        dtype = delta.get("type")
        if dtype == "text_delta":
            text = delta.get("text")
            if isinstance(text, str) and text:
                block.parts.append(text)
                self.pieces.append(text)
                self.content_ns.append(t_ns)
        elif dtype == "input_json_delta":
            piece = delta.get("partial_json")
            if isinstance(piece, str):
                block.parts.append(piece)
                self.tool_ns.append(t_ns)
        elif dtype == "thinking_delta":
            thinking = delta.get("thinking")
            if isinstance(thinking, str) and thinking:
                block.parts.append(thinking)
                self.reasoning_chunks += 1
                if self.first_reasoning_ns is None:
                    self.first_reasoning_ns = t_ns
        elif dtype == "signature_delta" and isinstance(delta.get("signature"), str):
            block.signature = delta["signature"]

    def _block_start(self, obj: dict[str, Any], t_ns: int) -> None:
        index, start = obj.get("index"), obj.get("content_block")
        if not isinstance(index, int) or isinstance(index, bool) or not isinstance(start, dict):
            raise ChunkError(f"stream event {self.n_events}: content_block_start without index or block")
        block = _Block(type=str(start.get("type") or "?"))
        self.blocks[index] = block
        if block.type == "text" and isinstance(start.get("text"), str) and start["text"]:
            block.parts.append(start["text"])
            self.pieces.append(start["text"])
            self.content_ns.append(t_ns)
        elif block.type == "tool_use":
            block.id, block.name = str(start.get("id") or ""), str(start.get("name") or "")
            if isinstance(start.get("input"), dict) and start["input"]:  # a block sent whole
                block.parts.append(json.dumps(start["input"]))
        elif block.type == "thinking":
            if isinstance(start.get("thinking"), str) and start["thinking"]:
                block.parts.append(start["thinking"])
                self.first_reasoning_ns = self.first_reasoning_ns or t_ns
            block.signature = str(start.get("signature") or "")
        elif block.type == "redacted_thinking":
            block.data = str(start.get("data") or "")

    def _block_stop(self, block: _Block) -> None:
        if block.type != "tool_use" or block.arguments is not None:
            return
        text = "".join(block.parts)
        try:
            value = json.loads(text) if text.strip() else {}
        except ValueError:
            raise ChunkError(
                f"tool_use block '{block.name}': input_json_delta pieces are not valid JSON: {text[:80]!r}"
            ) from None
        if not isinstance(value, dict):
            raise ChunkError(f"tool_use block '{block.name}': its input is not a JSON object: {text[:80]!r}")
        block.arguments = text if text.strip() else "{}"

    def _message_start(self, obj: dict[str, Any]) -> None:
        message = obj.get("message")
        if not isinstance(message, dict):
            raise ChunkError(f"stream event {self.n_events}: message_start without a message object")
        self.started = True
        if isinstance(message.get("model"), str):
            self.server_model = message["model"]
        usage = message.get("usage")
        if isinstance(usage, dict):
            check_usage(usage, "message_start.message.usage")
            self.usage.update(usage)

    def _message_delta(self, obj: dict[str, Any], t_ns: int) -> None:
        delta = obj.get("delta")
        if isinstance(delta, dict) and delta.get("stop_reason") and self.finish_reason is None:
            self.finish_reason = str(delta["stop_reason"])
            self.finish_ns = t_ns
        usage = obj.get("usage")
        if isinstance(usage, dict):
            check_usage(usage, "message_delta.usage")
            self.usage.update({k: v for k, v in usage.items() if v is not None})

    def _finish(self) -> None:
        for block in self.blocks.values():
            self._block_stop(block)  # a tool block the server never closed is judged now
        self.done = True
        if self.on_complete is not None:
            self.on_complete(self)

    # -------------------------------------------------------------------------------- whole answers
    def feed_body(self, raw: bytes, t_ns: int) -> None:
        """A non-streamed answer: a ``Message`` object (a server that ignored ``stream``)."""
        try:
            obj = json.loads(raw)
        except ValueError:
            raise ChunkError(f"HTTP 200 answer is not JSON: {raw[:120]!r}") from None
        if not isinstance(obj, dict) or obj.get("type") != "message":
            if isinstance(obj, dict) and obj.get("type") == "error":
                etype, message = describe_error(obj)
                raise ChunkError(f"HTTP 200 answer is an error: {etype}: {message}")
            raise ChunkError(f"HTTP 200 answer is not a Messages response: {raw[:120]!r}")
        content = obj.get("content") or []
        self._message_start({"message": {**obj, "content": []}})
        for index, block in enumerate(content if isinstance(content, list) else []):
            self._block_start({"index": index, "content_block": block}, t_ns)
            if isinstance(block, dict) and block.get("type") == "thinking" and block.get("thinking"):
                self.first_reasoning_ns = self.first_reasoning_ns or t_ns
        self._message_delta({"delta": {"stop_reason": obj.get("stop_reason")}}, t_ns)
        self._finish()

    def end_problem(self) -> tuple[str, bool] | None:
        if not self.done:
            got = len(self.content_ns) + len(self.tool_ns)
            why = "stream ended before message_stop (cut?)"
            return (f"{why} after {got} content deltas" if got else why), not got
        if not self.started:
            return "stream carried no message_start (not a Messages response)", False
        return None

    # --------------------------------------------------------------------------------------- views
    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def tool_calls(self) -> list[dict[str, str]]:
        return [
            {"id": b.id, "name": b.name, "arguments": b.arguments if b.arguments is not None else ""}
            for _, b in sorted(self.blocks.items())
            if b.type == "tool_use"
        ]

    def thinking_blocks(self) -> list[dict[str, Any]]:
        """The thinking blocks in order, as request params (to send back in a tool-use loop)."""
        return [p for _, b in sorted(self.blocks.items()) if (p := b.as_param()) is not None]

    def counts(self) -> UsageCounts:
        u = self.usage
        fresh = token_count(u.get("input_tokens"))
        read = token_count(u.get("cache_read_input_tokens"))
        write = token_count(u.get("cache_creation_input_tokens"))
        split = u.get("cache_creation")
        write_1h = token_count(split.get("ephemeral_1h_input_tokens")) if isinstance(split, dict) else None
        if write is None and isinstance(split, dict):
            parts = [n for v in split.values() if (n := token_count(v)) is not None]
            write = sum(parts) if parts else None
        prompt = None if fresh is None else fresh + (read or 0) + (write or 0)
        output = token_count(u.get("output_tokens"))
        reasoning = self._thinking_tokens(output)
        completion = None if output is None else max(0, output - (reasoning or 0))
        return UsageCounts(prompt, completion, reasoning, read, write, write_1h)

    def _thinking_tokens(self, output: int | None) -> int | None:
        details = self.usage.get("output_tokens_details")
        if isinstance(details, dict) and (n := token_count(details.get("thinking_tokens"))) is not None:
            return min(n, output) if output is not None else n
        thought = sum(len(p) for b in self.blocks.values() if b.type == "thinking" for p in b.parts)
        if not thought or output is None:
            return None
        rest = sum(len(p) for b in self.blocks.values() if b.type in ("text", "tool_use") for p in b.parts)
        return round(output * thought / (thought + rest))
