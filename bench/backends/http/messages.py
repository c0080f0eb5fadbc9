"""Anthropic's Messages API (``backend = "anthropic_messages"``): requests, and the agent loop's messages
translated into it.

The rest of infercost speaks OpenAI's chat-message form (the agent loop, ``trace.jsonl``, suites); the
translation happens here, per request:

- ``system`` messages → the top-level ``system`` blocks;
- an assistant message's ``tool_calls`` → ``tool_use`` blocks (arguments parsed into ``input``), after its
  text; the thinking blocks that preceded those calls in Claude's reply go back in front of them, as the
  API requires inside a tool-use loop (the backend keeps them, keyed by the calls' ids);
- ``tool`` messages → ``tool_result`` blocks; the results of one turn's parallel calls, and any user text
  after them, form one user turn (the API wants every result of a turn in the next user message);
- OpenAI ``tools`` → ``{name, description, input_schema}``.

Prompt caching, as a real agent uses it (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching):
agent steps and trace-replay steps carry ``cache_control`` breakpoints on the last tool, the last system
block, the newest message, and the message that was newest one step earlier (so the previous step's
entry is found whatever lies between): at most four, the API's limit. Their TTL is the profile's
``[http] prompt_cache`` (``5m`` or ``1h``, ``--cache-ttl``); ``off`` (``--prefix-cache off``) sends none.
Single-shot tasks never carry breakpoints: each repetition must pay for its prompt as a new user would.

Extended thinking (``[http] thinking_budget_tokens``): ``thinking: {type: enabled, budget_tokens}``;
``max_tokens`` becomes the budget plus the task's own limit (the limit covers thinking too), and
``temperature`` is left out (the API refuses it with thinking). The API takes no ``seed``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from bench.backends.base import ChatRequest
from bench.backends.http.messages_stream import MessagesStream, describe_error
from bench.backends.http.wire import error_body_message, shape_text
from bench.backends.http.wire_format import RequestPlan
from bench.devices.http_settings import HttpSettings
from bench.models.tokenizer import GgufTokenizer
from bench.suite.loader import Task

__all__ = ["ANTHROPIC_VERSION", "MAX_BREAKPOINTS", "MessagesWire", "place_breakpoints", "translate"]

# the ``anthropic-version`` header, and the key as ``Authorization: Bearer``: what the official SDK (2.17)
# sends; a profile's ``headers`` may name another version, ``auth_header = "x-api-key"`` with
# ``auth_scheme = ""`` sends the key the older documented way
ANTHROPIC_VERSION = "2026-10-21"
MAX_BREAKPOINTS = 4  # the API refuses a request with more cache_control blocks
_UNCACHEABLE = ("thinking", "redacted_thinking")  # blocks that cannot carry cache_control
_THINKING_MEMORY = 1024  # tool-use replies whose thinking blocks are kept for the next step


def _text(content: Any) -> str:
    """A chat message's content as text (OpenAI's multi-part content: its text parts joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "" if content is None else str(content)


def _tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments as the ``input`` object (a recorded call whose JSON is not an object is
    kept under ``"input"``, so nothing the model wrote is lost)."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments) if isinstance(arguments, str) and arguments.strip() else {}
    except ValueError:
        return {"input": arguments}
    return value if isinstance(value, dict) else {"input": value}


def _append(out: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if out and out[-1]["role"] == role:
        out[-1]["content"].extend(blocks)
    else:
        out.append({"role": role, "content": blocks})


def translate(
    messages: list[dict[str, Any]], thinking: dict[str, list[dict[str, Any]]] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI chat messages → (system blocks, Messages turns) (see the module docstring).
    ``thinking``: the thinking blocks of earlier replies, by the id of the first tool call they led to."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for m in messages:
        role, text = m.get("role"), _text(m.get("content"))
        if role == "system":
            if text:
                system.append({"type": "text", "text": text})
        elif role == "tool":
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": str(m.get("tool_call_id") or "")}
            if text:
                result["content"] = text
            _append(out, "user", [result])
        elif role == "assistant":
            calls = [c for c in m.get("tool_calls") or [] if isinstance(c, dict)]
            blocks: list[dict[str, Any]] = []
            if calls and thinking:
                blocks.extend(thinking.get(str(calls[0].get("id")), []))
            if text:
                blocks.append({"type": "text", "text": text})
            for call in calls:
                fn = call.get("function") or {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": str(call.get("id") or ""),
                        "name": str(fn.get("name") or ""),
                        "input": _tool_input(fn.get("arguments")),
                    }
                )
            if blocks:
                _append(out, "assistant", blocks)
        elif text:
            _append(out, "user", [{"type": "text", "text": text}])
    return system, out


def _tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    for t in tools or []:
        fn: dict[str, Any] = t["function"] if isinstance(t.get("function"), dict) else t
        entry: dict[str, Any] = {
            "name": fn.get("name"),
            "input_schema": fn.get("parameters") or fn.get("input_schema") or {"type": "object"},
        }
        if fn.get("description"):
            entry["description"] = fn["description"]
        out.append(entry)
    return out


def place_breakpoints(
    tools: list[dict[str, Any]], system: list[dict[str, Any]], turns: list[dict[str, Any]], ttl: str
) -> int:
    """Mark the cache breakpoints of one agent step in place (see the module docstring); returns how many."""
    marker = {"type": "ephemeral", "ttl": ttl}
    targets: list[dict[str, Any]] = []
    if tools:
        targets.append(tools[-1])
    if system:
        targets.append(system[-1])
    newest = len(turns) - 1
    # the turn that was newest one step ago: the last user turn before the last assistant turn
    last_reply = max((i for i, t in enumerate(turns) if t["role"] == "assistant"), default=-1)
    earlier = max((i for i in range(last_reply) if turns[i]["role"] == "user"), default=-1)
    for i in (earlier, newest):
        if i >= 0:
            cacheable = [b for b in turns[i]["content"] if b.get("type") not in _UNCACHEABLE]
            if cacheable:
                targets.append(cacheable[-1])
    for block in targets[:MAX_BREAKPOINTS]:
        block["cache_control"] = dict(marker)
    return min(len(targets), MAX_BREAKPOINTS)


class MessagesWire:
    """The ``anthropic_messages`` backend's wire format (``wire_format.WireFormat``). One per backend: it
    keeps the thinking blocks of its recent tool-use replies (see the module docstring)."""

    backend = "anthropic_messages"
    engine = "Anthropic Messages API"
    prompt_format = "messages"
    text_completions = False

    def __init__(self) -> None:
        self._thinking: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def headers(self, key: str | None, settings: HttpSettings) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if key:
            headers[settings.auth_header] = f"{settings.auth_scheme} {key}".strip()
        return headers

    def request(
        self, task: Task, model: str, settings: HttpSettings, *, tokenizer: GgufTokenizer | None,
        plain_chat: bool,
    ) -> RequestPlan:  # fmt: skip
        fmt = "messages"
        if task.shape is not None:
            chat = [{"role": "user", "content": shape_text(task.shape.prompt_tokens, task.seed, tokenizer)}]
            fmt = "shape_text"
        elif task.prompt is not None:
            chat = [{"role": "user", "content": task.prompt}]
        else:
            assert task.messages is not None
            chat = [m.model_dump() for m in task.messages]
        system, turns = translate(chat)
        body = self._body(model, settings, system, turns, [], task.generation_limit, task.temperature)
        return RequestPlan("/messages", body, fmt, chat, None, [])

    def chat_request(self, request: ChatRequest, model: str, settings: HttpSettings) -> RequestPlan:
        system, turns = translate(request.messages, self._thinking)
        tools = _tools(request.tools)
        if settings.prompt_cache != "off":
            place_breakpoints(tools, system, turns, settings.prompt_cache)
        limit = request.exact_tokens if request.exact_tokens is not None else request.max_tokens
        body = self._body(model, settings, system, turns, tools, limit, request.temperature)
        return RequestPlan("/messages", body, "messages", request.messages, None, [])

    def _body(
        self, model: str, settings: HttpSettings, system: list[dict[str, Any]], turns: list[dict[str, Any]],
        tools: list[dict[str, Any]], limit: int, temperature: float,
    ) -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {"model": model, "max_tokens": limit, "messages": turns, "stream": True}
        if system:
            body["system"] = system
        if tools:
            body["tools"] = tools
        budget = settings.thinking_budget_tokens
        if budget is not None:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            body["max_tokens"] = budget + limit
        else:
            body["temperature"] = temperature
        body.update(settings.extra_body)
        for name in settings.omit_params:
            body.pop(name, None)
        return body

    def new_stream(self) -> MessagesStream:
        return MessagesStream(on_complete=self._remember)

    def _remember(self, stream: MessagesStream) -> None:
        """Keep a tool-use reply's thinking blocks for the request that returns its tool results."""
        calls = stream.tool_calls
        blocks = stream.thinking_blocks()
        if calls and blocks:
            self._thinking[calls[0]["id"]] = blocks
            while len(self._thinking) > _THINKING_MEMORY:
                self._thinking.popitem(last=False)

    def error_message(self, body: bytes) -> str:
        """``overloaded_error: Overloaded`` from ``{"type": "error", "error": {...}}``."""
        try:
            obj = json.loads(body)
        except ValueError:
            return error_body_message(body)
        if isinstance(obj, dict) and obj.get("type") == "error":
            etype, message = describe_error(obj)
            return f"{etype}: {message}"
        return error_body_message(body)
