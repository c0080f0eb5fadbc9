"""A fake Anthropic Messages API (loopback only) whose every answer the official SDK accepts.

The referee is the ``anthropic`` package itself: every event this server streams is validated against
``anthropic.types.RawMessageStreamEvent`` (``ErrorResponse`` for errors, ``Message`` for whole answers,
``ModelInfo`` for ``/v1/models``) before it is written, with no field the SDK does not know; every request
body is validated against ``MessageCreateParamsStreaming`` (plus the rules the real API enforces that a
TypedDict cannot say: no unknown top-level field such as ``seed``; the sampling parameters the API still
takes but the SDK no longer offers, refused by the newest models, at most four ``cache_control``
breakpoints, 1-hour breakpoints before 5-minute ones, tool results answering the turn before, and with
thinking on: no ``temperature``, a budget below ``max_tokens``, and a final tool-use turn that starts
with a thinking block this server signed). A request that breaks a rule gets the API's 400.

Prompt caching follows the documented rules (https://docs.anthropic.com/en/docs/build-with-claude/
prompt-caching): the prompt is the sequence tools → system → messages, block by block; a breakpoint
(``cache_control``) on a block makes the prefix ending there cacheable. A request *reads* the longest
prefix that was cached (at a breakpoint, or up to 20 blocks before one), not expired, for the same model;
reading refreshes its TTL; changing the thinking settings invalidates the cached messages (not the tools
and system before them). It *writes* every later breakpoint prefix at least the model's minimum
cacheable length long (``MIN_CACHEABLE_TOKENS``); the tokens between the read prefix and the last written
breakpoint are the write, each segment at its breakpoint's TTL (5 minutes or 1 hour). ``input_tokens`` is
the rest. Tokens are counted as ⌈characters / 4⌉ per block (tool definitions as their JSON, plus the 346
tokens of the tool-use system prompt the API adds when tools are present). ``clock`` is injectable, so a
test can let a TTL run out without waiting.

The model: with tools, the first reply calls the first two tools in parallel (arguments from their
schemas), the second calls the first tool, the third answers "The answer is 42."; without tools it
answers with words; with thinking on, a signed thinking block comes first. Output tokens: one per text
or thinking delta, ⌈JSON / 4⌉ per tool call.

Scenarios (``scenario=NAME`` in the user's text; "the first k times" counts attempts per prompt):
``429`` (twice, ``retry-after: 0``), ``429-long`` (``retry-after: 3600``), ``529`` (overloaded, once),
``overloaded-event`` (an ``error`` event right after ``message_start``, once), ``error-midstream`` (an
``api_error`` event after three text deltas), ``cut`` (the connection dies after three text deltas),
``bad-tool-json`` (a tool call whose ``input_json_delta`` pieces are not JSON), ``400`` (an
``invalid_request_error``), ``echo-key`` (a 400 echoing the ``x-api-key`` header, as a careless proxy
might), ``json`` (a whole ``Message`` although a stream was asked for; a request without ``stream`` gets one too), ``fast:N`` (N text deltas written back to
back, stamped as ``GET /_stamps`` reports them: the client benchmarks).

Run standalone: ``python tests/servers/fake_anthropic.py --port 8098 [--key K] [--cpu N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections.abc as cabc
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from typing import Any

import pydantic
from anthropic import BaseModel as SDKModel
from anthropic.types import Message, ModelInfo, RawMessageStreamEvent
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from anthropic.types.shared import ErrorResponse
from anthropic.types.text_block_param import TextBlockParam
from anthropic.types.thinking_block_param import ThinkingBlockParam
from anthropic.types.tool_param import ToolParam
from anthropic.types.tool_result_block_param import ToolResultBlockParam
from anthropic.types.tool_use_block_param import ToolUseBlockParam

from tests.servers.fake_openai import _SCENARIO, _STREAM_HEAD, WORDS, FakeOpenAI, ServerThread, _chunk

__all__ = ["MIN_CACHEABLE_TOKENS", "FakeMessages", "PromptCache", "messages_server", "tokens_of"]

# Minimum cacheable prompt length by model (Anthropic's prompt-caching page, as quoted in
# anthropic-sdk-python issue #1194, 2026): the longest matching model-id prefix wins; others 1024.
MIN_CACHEABLE_TOKENS = {
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-6": 1024,
    "claude-sonnet-4-5": 1024,
    "claude-opus-4-1": 1024,
    "claude-opus-4": 1024,
    "claude-sonnet-4": 1024,
    "claude-3-7-sonnet": 1024,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}
# The SDK (since 1.0) no longer offers temperature/top_p/top_k, but the API still takes them on the models
# before Claude Opus 4.7, which answer 400 "`temperature` is deprecated for this model." (their docs)
SAMPLING_PARAMS = frozenset({"temperature", "top_p", "top_k"})
NO_SAMPLING_MODELS = ("claude-opus-4-7", "claude-opus-4-8")
TOOL_USE_SYSTEM_TOKENS = 346  # the tool-use system prompt the API adds (tool_choice auto, Claude 4.x)
TTL_S = {"5m": 300.0, "1h": 3600.0}
LOOKBACK_BLOCKS = 20  # a breakpoint also finds a cached prefix up to this many blocks before it
MAX_BREAKPOINTS = 4
MODELS = ("claude-haiku-4-5", "claude-sonnet-4-5")
ANSWER = ("The", " answer", " is", " 42.")
THINKING = ("Let me", " think", " about", " this.")
_VALUES = {"path": ".", "pattern": "e", "expression": "6 * 7", "query": "SELECT 1", "code": "print(42)"}
_EVENT = pydantic.TypeAdapter(RawMessageStreamEvent)
_REQUEST = {
    True: pydantic.TypeAdapter(MessageCreateParamsStreaming),
    False: pydantic.TypeAdapter(MessageCreateParamsNonStreaming),
}
_TOP_LEVEL = MessageCreateParamsStreaming.__required_keys__ | MessageCreateParamsStreaming.__optional_keys__
_BLOCK_KEYS = {
    name: cls.__required_keys__ | cls.__optional_keys__
    for name, cls in (
        ("text", TextBlockParam),
        ("tool_use", ToolUseBlockParam),
        ("tool_result", ToolResultBlockParam),
        ("thinking", ThinkingBlockParam),
    )
}
_TOOL_KEYS = ToolParam.__required_keys__ | ToolParam.__optional_keys__


# ------------------------------------------------------------------------------------ the referee
def _no_unknown_fields(model: Any, where: str) -> None:
    """The SDK's models accept unknown fields; an answer from this server must have none."""
    if isinstance(model, SDKModel):
        extra = model.model_extra or {}
        assert not extra, f"{where}: fields the SDK does not know: {sorted(extra)}"
        for name in type(model).model_fields:
            _no_unknown_fields(getattr(model, name), f"{where}.{name}")
    elif isinstance(model, list):
        for i, item in enumerate(model):
            _no_unknown_fields(item, f"{where}[{i}]")


def checked(obj: dict[str, Any]) -> dict[str, Any]:
    """An event, error or message as the SDK's types read it (AssertionError / ValidationError if not)."""
    kind = obj.get("type")
    if kind == "ping":
        assert obj == {"type": "ping"}
    elif kind == "error":
        _no_unknown_fields(ErrorResponse.model_validate(obj), "error")
    elif kind == "message":
        _no_unknown_fields(Message.model_validate(obj), "message")
    elif kind == "model":
        _no_unknown_fields(ModelInfo.model_validate(obj), "model")
    else:
        _no_unknown_fields(_EVENT.validate_python(obj), str(kind))
    return obj


def _materialize(value: Any) -> Any:
    """Validated TypedDicts hold lazy iterators for ``Iterable`` fields: walk them, so errors surface."""
    if isinstance(value, dict):
        return {k: _materialize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, cabc.Iterator)):
        return [_materialize(v) for v in value]
    return value


class BadRequest(Exception):
    """The request breaks a rule of the API: answered with its 400 ``invalid_request_error``."""


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def check_request(body: dict[str, Any], signatures: set[str]) -> None:
    """Every rule of the module docstring; raises ``BadRequest`` with the API's kind of message."""
    unknown = sorted(set(body) - _TOP_LEVEL - SAMPLING_PARAMS)
    if unknown:
        raise BadRequest(f"{unknown[0]}: Extra inputs are not permitted")
    for name in sorted(SAMPLING_PARAMS & set(body)):
        if str(body.get("model", "")).startswith(NO_SAMPLING_MODELS):
            raise BadRequest(f"`{name}` is deprecated for this model.")
        if not isinstance(body[name], (int, float)) or isinstance(body[name], bool) or body[name] < 0:
            raise BadRequest(f"{name}: Input should be a valid number, 0 or more")
    if not 0 <= body.get("temperature", 0) <= 1:
        raise BadRequest("temperature: Input should be less than or equal to 1")
    try:
        adapter = _REQUEST[body.get("stream") is True]
        _materialize(adapter.validate_python({k: v for k, v in body.items() if k not in SAMPLING_PARAMS}))
    except pydantic.ValidationError as exc:
        raise BadRequest(f"request does not match MessageCreateParams: {str(exc)[:300]}") from None
    for tool in body.get("tools") or []:
        if set(tool) - _TOOL_KEYS:
            raise BadRequest(f"tools: {sorted(set(tool) - _TOOL_KEYS)[0]}: Extra inputs are not permitted")
    marks: list[str] = []
    turns = body["messages"]
    for i, turn in enumerate(turns):
        for j, block in enumerate(_blocks(turn["content"])):
            allowed = _BLOCK_KEYS.get(block.get("type"), set(block))
            if set(block) - allowed:
                extra = sorted(set(block) - allowed)[0]
                raise BadRequest(f"messages.{i}.content.{j}.{extra}: Extra inputs are not permitted")
            if block.get("type") == "text" and not block.get("text"):
                raise BadRequest(f"messages.{i}.content.{j}: text content blocks must be non-empty")
    for _, _, cc in prompt_items(body):
        if cc:
            marks.append(cc.get("ttl", "5m"))
    if len(marks) > MAX_BREAKPOINTS:
        raise BadRequest(f"A maximum of 4 blocks with cache_control may be provided. Found {len(marks)}.")
    if "5m" in marks and "1h" in marks[marks.index("5m") :]:
        raise BadRequest("a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block")
    for i, turn in enumerate(turns):  # every tool_use is answered by a tool_result in the next turn
        uses = [b["id"] for b in _blocks(turn["content"]) if b.get("type") == "tool_use"]
        if uses and turn["role"] == "assistant":
            following = _blocks(turns[i + 1]["content"]) if i + 1 < len(turns) else []
            answered = {b.get("tool_use_id") for b in following if b.get("type") == "tool_result"}
            if i + 1 < len(turns) and not set(uses) <= answered:
                raise BadRequest(
                    f"messages.{i + 1}: tool_use ids were found without tool_result blocks immediately after: "
                    + ", ".join(sorted(set(uses) - answered))
                )
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        if "temperature" in body and body["temperature"] != 1:
            raise BadRequest("`temperature` may only be set to 1 when thinking is enabled")
        if thinking["budget_tokens"] >= body["max_tokens"]:
            raise BadRequest("`max_tokens` must be greater than `thinking.budget_tokens`")
        last = max((i for i, t in enumerate(turns) if t["role"] == "assistant"), default=-1)
        if last >= 0 and any(b.get("type") == "tool_use" for b in _blocks(turns[last]["content"])):
            first = _blocks(turns[last]["content"])[0]
            if first.get("type") not in ("thinking", "redacted_thinking"):
                raise BadRequest(
                    f"messages.{last}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                    f"`{first.get('type')}`. When `thinking` is enabled, a final `assistant` message must "
                    "start with a thinking block"
                )
            if first.get("type") == "thinking" and first.get("signature") not in signatures:
                raise BadRequest(f"messages.{last}.content.0: Invalid `signature` in `thinking` block")


# --------------------------------------------------------------------------------- cache accounting
def tokens_of(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _block_tokens(block: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return tokens_of(block["text"])
    if kind == "tool_use":
        return tokens_of(block["name"] + json.dumps(block["input"], sort_keys=True))
    if kind == "tool_result":
        content = block.get("content") or ""
        return 1 + tokens_of(content if isinstance(content, str) else json.dumps(content, sort_keys=True))
    if kind == "thinking":
        return tokens_of(block["thinking"])
    return tokens_of(json.dumps(block, sort_keys=True))


def prompt_items(body: dict[str, Any]) -> list[tuple[str, int, dict[str, Any] | None]]:
    """The prompt as (identity, tokens, cache_control) per block: tools → system → messages."""
    items: list[tuple[str, int, dict[str, Any] | None]] = []
    for i, tool in enumerate(body.get("tools") or []):
        key = json.dumps({k: v for k, v in tool.items() if k != "cache_control"}, sort_keys=True)
        items.append(
            (key, tokens_of(key) + (TOOL_USE_SYSTEM_TOKENS if i == 0 else 0), tool.get("cache_control"))
        )
    system = body.get("system") or []
    for block in _blocks(system):
        items.append((json.dumps(block["text"]), tokens_of(block["text"]), block.get("cache_control")))
    # changing the thinking settings invalidates the cached messages, not the tools and system before them
    thinking = json.dumps(body.get("thinking"), sort_keys=True)
    for turn in body["messages"]:
        for block in _blocks(turn["content"]):
            plain = {k: v for k, v in block.items() if k != "cache_control"}
            key = thinking + json.dumps({"role": turn["role"], **plain}, sort_keys=True)
            items.append((key, _block_tokens(block), block.get("cache_control")))
    return items


def min_cacheable(model: str) -> int:
    match = max((m for m in MIN_CACHEABLE_TOKENS if model.startswith(m)), key=len, default=None)
    return MIN_CACHEABLE_TOKENS[match] if match else 1024


class PromptCache:
    """The cache of one organisation (see the module docstring): prefix hash → (expiry, TTL)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, minimum: int | None = None) -> None:
        self.clock = clock
        self.minimum = minimum  # None: the model's documented minimum
        self.entries: dict[str, tuple[float, float]] = {}

    def account(self, model: str, items: list[tuple[str, int, dict[str, Any] | None]]) -> dict[str, int]:
        """Read, write (5m, 1h) and uncached input tokens of one request, updating the cache."""
        digest = hashlib.sha256(model.encode())
        hashes, cum, total = [], [], 0
        for key, tokens, _ in items:
            digest.update(key.encode() + b"\0")
            hashes.append(digest.hexdigest())
            total += tokens
            cum.append(total)
        now = self.clock()
        marks = [i for i, (_, _, cc) in enumerate(items) if cc]
        hit = -1
        for b in marks:
            for j in range(b, max(-1, b - LOOKBACK_BLOCKS), -1):
                entry = self.entries.get(hashes[j])
                if entry is not None and entry[0] > now:
                    hit = max(hit, j)
                    break
        if hit >= 0:
            self.entries[hashes[hit]] = (now + self.entries[hashes[hit]][1], self.entries[hashes[hit]][1])
        minimum = self.minimum if self.minimum is not None else min_cacheable(model)
        written = {"5m": 0, "1h": 0}
        done = hit
        for b in marks:
            if b <= hit or cum[b] < minimum:
                continue
            cc = items[b][2] or {}
            ttl = str(cc.get("ttl") or "5m")
            written[ttl] += cum[b] - (cum[done] if done >= 0 else 0)
            self.entries[hashes[b]] = (now + TTL_S[ttl], TTL_S[ttl])
            done = b
        read = cum[hit] if hit >= 0 else 0
        return {
            "read": read,
            "write_5m": written["5m"],
            "write_1h": written["1h"],
            "input": total - read - written["5m"] - written["1h"],
        }


# --------------------------------------------------------------------------------------- the server
def _sse(obj: dict[str, Any]) -> bytes:
    checked(obj)
    return f"event: {obj['type']}\ndata: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()


def _error(kind: str, message: str) -> dict[str, Any]:
    return checked({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"})


def _arguments(tool: dict[str, Any]) -> dict[str, Any]:
    schema = tool.get("input_schema") or {}
    props = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for name in schema.get("required") or []:
        kind = (props.get(name) or {}).get("type")
        out[name] = {"integer": 1, "number": 1, "boolean": True, "object": {}, "array": []}.get(
            kind, _VALUES.get(name, "x")
        )
    return out


class FakeMessages(FakeOpenAI):
    """The Messages API on ``FakeOpenAI``'s HTTP plumbing (``ServerThread(app=FakeMessages())``)."""

    def __init__(
        self,
        key: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        min_cacheable_tokens: int | None = None,
        record: bool = True,
    ) -> None:
        super().__init__(key)
        self.cache = PromptCache(clock, min_cacheable_tokens)
        self.signatures: set[str] = set()
        self.record = record
        self.sent: list[bytes] = []  # every streamed body, as written (record=True)
        self.usages: list[dict[str, Any]] = []  # the final usage of every answer, in order
        self.seen_keys: list[str] = []
        self._fast: dict[int, list[bytes]] = {}

    async def route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        writer: asyncio.StreamWriter,
        recv_ns: int,
    ) -> bool:
        # the key as the SDK sends it (Authorization: Bearer), or the older documented x-api-key
        bearer = headers.get("authorization", "")
        key = bearer.removeprefix("Bearer ") if bearer.startswith("Bearer ") else headers.get("x-api-key", "")
        if key:
            self.seen_keys.append(key)
        if path.endswith("/_stamps"):
            await self.send_json(writer, 200, self.stamps)
            return True
        if self.key is not None and key != self.key:
            await self.send_json(writer, 401, _error("authentication_error", "invalid API key"))
            return True
        if "anthropic-version" not in headers:
            await self.send_json(
                writer, 400, _error("invalid_request_error", "anthropic-version: header is required")
            )
            return True
        if method == "GET" and path.endswith("/models"):
            data = [
                checked(
                    {
                        "type": "model",
                        "id": m,
                        "display_name": m,
                        "created_at": "2025-10-01T00:00:00Z",
                        "lifecycle": "active",
                    }
                )
                for m in MODELS
            ]
            await self.send_json(
                writer, 200, {"data": data, "has_more": False, "first_id": MODELS[0], "last_id": MODELS[-1]}
            )
            return True
        if method != "POST" or not path.endswith("/messages"):
            await self.send_json(writer, 404, _error("not_found_error", f"no route {path}"))
            return True
        req = json.loads(body or b"{}")
        self.requests.append(req)
        prompt = json.dumps(req.get("messages"))
        match = _SCENARIO.search(prompt)
        scenario = match.group(1) if match else "ok"
        n = self.attempts[prompt]
        self.attempts[prompt] += 1
        try:
            check_request(req, self.signatures)
        except BadRequest as exc:
            await self.send_json(writer, 400, _error("invalid_request_error", str(exc)))
            return True
        if not any(req["model"].startswith(m) for m in MODELS):
            await self.send_json(writer, 404, _error("not_found_error", f"model: {req['model']}"))
            return True
        return await self.answer(scenario, n, req, key, writer, recv_ns)

    # ---------------------------------------------------------------------------------- answers
    async def answer(
        self, scenario: str, n: int, req: dict[str, Any], key: str, writer: asyncio.StreamWriter, recv_ns: int
    ) -> bool:
        if scenario.startswith("fast:"):
            return await self.fast(int(scenario.split(":")[1]), writer, recv_ns)
        if scenario == "429" and n < 2:
            await self.send_json(writer, 429, _error("rate_limit_error", "slow down"), {"retry-after": "0"})
            return True
        if scenario == "429-long":
            await self.send_json(writer, 429, _error("rate_limit_error", "quota"), {"retry-after": "3600"})
            return True
        if scenario == "529" and n < 1:
            await self.send_json(writer, 529, _error("overloaded_error", "Overloaded"))
            return True
        if scenario == "400":
            await self.send_json(writer, 400, _error("invalid_request_error", "messages.0: something is off"))
            return True
        if scenario == "echo-key":
            await self.send_json(writer, 400, _error("invalid_request_error", f"bad request from key {key}"))
            return True
        events = self.events(req, scenario)
        if scenario == "json" or req.get("stream") is not True:
            await self.send_json(writer, 200, self.whole(events))
            return True
        if scenario == "overloaded-event" and n < 1:
            events = [*events[:2], _error("overloaded_error", "Overloaded")]
        writer.write(_STREAM_HEAD)
        sent = b""
        deltas = 0
        for ev in events:
            if scenario == "cut" and deltas == 3:
                writer.transport.abort()
                return False
            if scenario == "error-midstream" and deltas == 3:
                ev = _error("api_error", "Internal server error")
            frame = _sse(ev)
            sent += frame
            writer.write(_chunk(frame))
            await writer.drain()
            if ev["type"] == "error":
                break
            deltas += ev["type"] == "content_block_delta" and ev["delta"]["type"] == "text_delta"
        if self.record:  # before the last byte: a client may read sent[-1] as soon as it has the answer
            self.sent.append(sent)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    def events(self, req: dict[str, Any], scenario: str) -> list[dict[str, Any]]:
        """The whole streamed answer to ``req`` (cache accounted now, as the real API does at start)."""
        model = req["model"]
        cache = self.cache.account(model, prompt_items(req))
        turns = req["messages"]
        replies = sum(1 for t in turns if t["role"] == "assistant")
        thinking_on = (req.get("thinking") or {}).get("type") == "enabled"
        blocks: list[tuple[str, Any]] = []
        if thinking_on:
            text = "".join(THINKING)
            signature = "sig-" + hashlib.sha256(f"{text}{len(self.signatures)}".encode()).hexdigest()[:24]
            self.signatures.add(signature)
            blocks.append(("thinking", (THINKING, signature)))
        tools = req.get("tools") or []
        if scenario == "bad-tool-json":
            blocks.append(("tool_use", ("toolu_bad", "calculator", ['{"expr', 'ession": 6*}'])))
        elif tools and replies < 2:
            for i, tool in enumerate(tools[: 2 if replies == 0 else 1]):
                args = json.dumps(_arguments(tool))
                pieces = [args[: len(args) // 2], args[len(args) // 2 :]] if len(args) > 2 else [args]
                blocks.append(
                    ("tool_use", (f"toolu_{replies}{i}_{len(self.requests)}", tool["name"], pieces))
                )
        else:
            budget = req["max_tokens"] - (len(THINKING) if thinking_on else 0)
            words = ANSWER if tools else tuple((" " if i else "") + WORDS[i % len(WORDS)] for i in range(12))
            blocks.append(("text", words[: max(1, budget)]))
        stop = "tool_use" if any(k == "tool_use" for k, _ in blocks) else "end_turn"
        if stop == "end_turn" and not tools and len(blocks[-1][1]) < 12:
            stop = "max_tokens"
        msg_id = f"msg_fake_{len(self.requests)}"
        start_usage = {
            "input_tokens": cache["input"],
            "cache_creation_input_tokens": cache["write_5m"] + cache["write_1h"],
            "cache_read_input_tokens": cache["read"],
            "cache_creation": {
                "ephemeral_5m_input_tokens": cache["write_5m"],
                "ephemeral_1h_input_tokens": cache["write_1h"],
            },
            "output_tokens": 1,
            "service_tier": "standard",
        }
        events: list[dict[str, Any]] = [
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
            {"type": "ping"},
        ]
        output = thought = 0
        for index, (kind, spec) in enumerate(blocks):
            if kind == "thinking":
                pieces, signature = spec
                events.append(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                    }
                )
                for p in pieces:
                    events.append(self._delta(index, {"type": "thinking_delta", "thinking": p}))
                events.append(self._delta(index, {"type": "signature_delta", "signature": signature}))
                thought += len(pieces)
            elif kind == "tool_use":
                tool_id, name, pieces = spec
                events.append(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "tool_use", "id": tool_id, "name": name, "input": {}},
                    }
                )
                for p in pieces:
                    events.append(self._delta(index, {"type": "input_json_delta", "partial_json": p}))
                output += tokens_of(name + "".join(pieces))
            else:
                events.append(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    }
                )
                for w in spec:
                    events.append(self._delta(index, {"type": "text_delta", "text": w}))
                output += len(spec)
            events.append({"type": "content_block_stop", "index": index})
        final: dict[str, Any] = {
            "output_tokens": output + thought,
            "input_tokens": cache["input"],
            "cache_creation_input_tokens": cache["write_5m"] + cache["write_1h"],
            "cache_read_input_tokens": cache["read"],
        }
        if thinking_on:
            final["output_tokens_details"] = {"thinking_tokens": thought}
        events.append(
            {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": final}
        )
        events.append({"type": "message_stop"})
        self.usages.append({**start_usage, **final})
        return events

    @staticmethod
    def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": index, "delta": delta}

    def whole(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """The same answer as one ``Message`` (a server that ignored ``stream``)."""
        start = next(e for e in events if e["type"] == "message_start")
        delta = next(e for e in events if e["type"] == "message_delta")
        content: list[dict[str, Any]] = []
        parts: dict[int, list[str]] = {}
        for e in events:
            if e["type"] == "content_block_start":
                content.append(dict(e["content_block"]))
            elif e["type"] == "content_block_delta":
                d = e["delta"]
                block = content[e["index"]]
                if d["type"] == "text_delta":
                    block["text"] += d["text"]
                elif d["type"] == "thinking_delta":
                    block["thinking"] += d["thinking"]
                elif d["type"] == "signature_delta":
                    block["signature"] = d["signature"]
                else:
                    parts.setdefault(e["index"], []).append(d["partial_json"])
        for index, pieces in parts.items():
            content[index]["input"] = json.loads("".join(pieces))
        usage = {**start["message"]["usage"], **delta["usage"]}
        message = {**start["message"], "content": content, **delta["delta"], "usage": usage}
        return checked(message)

    async def fast(self, n: int, writer: asyncio.StreamWriter, recv_ns: int) -> bool:
        """N text deltas, pre-built (the server's cost per event is a buffer copy)."""
        if n not in self._fast:
            start = {
                "type": "message_start",
                "message": {
                    "id": "msg_fast",
                    "type": "message",
                    "role": "assistant",
                    "model": MODELS[0],
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 11, "output_tokens": 1},
                },
            }
            frames = [
                _sse(start),
                _sse(
                    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
                ),
            ]
            delta = _sse(self._delta(0, {"type": "text_delta", "text": " fox"}))
            frames += [delta] * n
            frames += [
                _sse({"type": "content_block_stop", "index": 0}),
                _sse(
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": n},
                    }
                ),
                _sse({"type": "message_stop"}),
            ]
            # 64 frames a write, as fake_openai.py writes its chunks: the clients read alike
            self._fast[n] = [
                b"".join(_chunk(f) for f in frames[i : i + 64]) for i in range(0, len(frames), 64)
            ]
        batches = self._fast[n]
        first_ns = time.monotonic_ns()
        writer.write(_STREAM_HEAD + batches[0])
        self.stamps.append({"recv_ns": recv_ns, "first_byte_ns": first_ns})
        await writer.drain()
        for batch in batches[1:]:
            writer.write(batch)
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


def messages_server(key: str | None = None, **options: Any) -> ServerThread:
    """A ``FakeMessages`` on a free loopback port in a background thread (``.app`` is the fake)."""
    return ServerThread(app=FakeMessages(key, **options))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8098)
    p.add_argument("--key", default=None)
    p.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    args = p.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    app = FakeMessages(args.key, record=False)

    async def serve() -> None:
        server = await asyncio.start_server(app.handle, "127.0.0.1", args.port, backlog=1024)
        print(f"listening on {args.port}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
