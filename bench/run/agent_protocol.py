"""How an agent task talks to a model: native tool calling, or a documented text protocol.

Two protocols, chosen automatically per backend and recorded in the manifest (``backend.agent_protocol``):

- ``native_tools``: the request carries the OpenAI ``tools`` list; the model answers with
  ``tool_calls`` (over HTTP, streamed deltas reassembled by the wire layer) or, in-process with a chat
  template that renders tools, with the JSON its template teaches (parsed as below). Tool results go
  back as ``role = "tool"`` messages.
- ``text_json`` (models whose chat template has no tools support, e.g. SmolLM2): a system message lists
  the tools and asks for **one JSON object per tool call on its own line**,
  ``{"tool": "NAME", "arguments": {...}}``; any reply without such an object is the final answer. Tool
  results go back as user messages ``Tool result (NAME): ...``.

The canonical conversation (what ``trace.jsonl`` records) is always OpenAI-shaped; ``to_text_protocol``
renders it deterministically, so a replayed trace gives the same prompt tokens.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bench.suite.tool_calls import MadeCall

__all__ = [
    "MAX_ARGUMENT_CHARS", "MAX_CALLS_PER_STEP", "ParsedCall", "Protocol", "made_calls", "parse_native_call",
    "parse_text_calls", "reply_calls", "to_text_protocol",
]  # fmt: skip

Protocol = Literal["native_tools", "text_json"]
MAX_ARGUMENT_CHARS = 20_000  # a tool call's arguments longer than this are refused (a runaway model)
MAX_CALLS_PER_STEP = 8  # tool calls beyond this in one reply are refused, each counted as an error

_INSTRUCTIONS = (
    "You can use tools. To call a tool, reply with one line of JSON and nothing else:\n"
    '{"tool": "NAME", "arguments": {...}}\n'
    "For example:\n"
    '{"tool": "read_file", "arguments": {"path": "notes.txt"}}\n'
    "You will get the tool's result, then you can call another tool. When you know the answer, reply "
    "with the answer in plain text, without JSON.\nTools:"
)


@dataclass(frozen=True)
class ParsedCall:
    """A tool call the model made: ``arguments`` parsed, or ``problem`` saying why they could not be."""

    id: str
    name: str
    arguments_text: str
    arguments: Any = None
    problem: str | None = None


def _tool_line(tool: dict[str, Any]) -> str:
    fn = tool["function"]
    params = fn["parameters"].get("properties", {})
    required = set(fn["parameters"].get("required", []))
    args = ", ".join(f"{k}: {v.get('type', 'any')}{'' if k in required else '?'}" for k, v in params.items())
    return f"- {fn['name']}({args}): {fn['description']}"


def to_text_protocol(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The OpenAI-shaped conversation as plain system/user/assistant messages with the tools in text."""
    system = _INSTRUCTIONS + "\n" + "\n".join(_tool_line(t) for t in tools)
    out: list[dict[str, str]] = []
    for m in messages:
        role = m["role"]
        if role == "system":
            system = f"{m.get('content') or ''}\n\n{system}"
        elif role == "tool":
            out.append(
                {
                    "role": "user",
                    "content": f"Tool result ({m.get('name', 'tool')}):\n{m.get('content') or ''}",
                }
            )
        elif role == "assistant":
            text = str(m.get("content") or "")
            if not text and m.get("tool_calls"):
                text = "\n".join(
                    json.dumps(
                        {
                            "tool": c["function"]["name"],
                            "arguments": _loads_or_text(c["function"]["arguments"]),
                        }
                    )
                    for c in m["tool_calls"]
                )
            out.append({"role": "assistant", "content": text})
        else:
            out.append({"role": "user", "content": str(m.get("content") or "")})
    return [{"role": "system", "content": system}, *out]


def _loads_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_text_calls(text: str, step: int) -> list[ParsedCall]:
    """Tool calls written as JSON objects in a reply (``{"tool"|"name": ..., "arguments": ...}``).

    A reply that mentions ``"tool"`` in something that is not valid JSON is a malformed call (counted as
    a tool error the model sees), not an answer: it plainly tried to call a tool."""
    decoder = json.JSONDecoder()
    calls: list[ParsedCall] = []
    i = 0
    while True:
        start = text.find("{", i)
        if start < 0:
            break
        try:
            obj, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            i = start + 1
            continue
        i = end
        if not isinstance(obj, dict):
            continue
        name = obj.get("tool", obj.get("name"))
        if not isinstance(name, str) or ("arguments" not in obj and "tool" not in obj):
            continue
        args = obj.get("arguments", {})
        if isinstance(args, str):  # arguments given as a JSON string, as the OpenAI wire does
            calls.append(parse_native_call(f"call_{step}_{len(calls)}", name, args))
        else:
            calls.append(ParsedCall(f"call_{step}_{len(calls)}", name, json.dumps(args), args))
    if not calls and '"tool"' in text:
        snippet = text.strip()[:200]
        calls.append(
            ParsedCall(f"call_{step}_0", "?", snippet, problem="tool call is not valid JSON: " + snippet)
        )
    return calls


def parse_native_call(call_id: str, name: str, arguments_text: str) -> ParsedCall:
    """A native tool call whose arguments arrive as JSON text (which the model may have got wrong)."""
    if len(arguments_text) > MAX_ARGUMENT_CHARS:
        return ParsedCall(
            call_id,
            name,
            arguments_text[:200],
            problem=f"arguments too long ({len(arguments_text)} characters)",
        )
    try:
        args = json.loads(arguments_text) if arguments_text.strip() else {}
    except (ValueError, RecursionError) as exc:
        return ParsedCall(call_id, name, arguments_text, problem=f"arguments are not valid JSON: {exc}")
    return ParsedCall(call_id, name, arguments_text, args)


def reply_calls(native: list[dict[str, Any]] | None, text: str, step: int) -> list[ParsedCall]:
    """The calls of one reply: the native ones where the backend reassembled any (``Generation.extra
    ["tool_calls"]``), else those written in the text protocol."""
    if native:
        return [
            parse_native_call(
                c.get("id") or f"call_{step}_{i}", c.get("name") or "?", c.get("arguments") or ""
            )
            for i, c in enumerate(native)
        ]
    return parse_text_calls(text, step)


def made_calls(calls: Sequence[ParsedCall]) -> list[MadeCall]:
    """Calls as the checks judge them: name and arguments text as written (one that did not parse stays
    unparseable, so a check sees what BFCL's decoder would)."""
    return [MadeCall(c.name, c.arguments_text) for c in calls]
