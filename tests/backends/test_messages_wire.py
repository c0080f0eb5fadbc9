"""Anthropic's Messages wire format without a network: translation from the agent loop's chat messages,
cache breakpoints, thinking, and the stream accumulator (events → text, tool calls, usage, faults).

Every request body built here also passes the fake server's check (``check_request``), which validates it
against the ``anthropic`` SDK's own request types and the API's rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.backends.base import ChatRequest
from bench.backends.http.messages import MessagesWire, place_breakpoints, translate
from bench.backends.http.messages_stream import MessagesStream
from bench.backends.http.wire_format import ChunkError, UsageCounts
from bench.devices.http_settings import HttpSettings
from bench.suite.loader import Task
from bench.suite.tools import openai_tools
from tests.servers.fake_anthropic import BadRequest, check_request

CALL = {
    "id": "toolu_a",
    "type": "function",
    "function": {"name": "calculator", "arguments": '{"expression": "6*7"}'},
}
CALL_B = {
    "id": "toolu_b",
    "type": "function",
    "function": {"name": "read_file", "arguments": '{"path": "a"}'},
}
AGENT = [
    {"role": "system", "content": "You are careful."},
    {"role": "user", "content": "What is 6*7?"},
    {"role": "assistant", "content": "Let me compute.", "tool_calls": [CALL, CALL_B]},
    {"role": "tool", "tool_call_id": "toolu_a", "name": "calculator", "content": "42"},
    {"role": "tool", "tool_call_id": "toolu_b", "name": "read_file", "content": "x = 1"},
]


def _breakpoints(body: dict[str, Any]) -> list[str]:
    found = []
    for i, tool in enumerate(body.get("tools") or []):
        if "cache_control" in tool:
            found.append(f"tools.{i}")
    for i, block in enumerate(body.get("system") or []):
        if "cache_control" in block:
            found.append(f"system.{i}")
    for i, turn in enumerate(body["messages"]):
        for j, block in enumerate(turn["content"]):
            if "cache_control" in block:
                found.append(f"messages.{i}.{j}")
    return found


def test_agent_messages_become_messages_turns() -> None:
    system, turns = translate(AGENT)
    assert system == [{"type": "text", "text": "You are careful."}]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [
        {"type": "text", "text": "Let me compute."},
        {"type": "tool_use", "id": "toolu_a", "name": "calculator", "input": {"expression": "6*7"}},
        {"type": "tool_use", "id": "toolu_b", "name": "read_file", "input": {"path": "a"}},
    ]
    # both results of the parallel calls in one user turn, in call order
    assert [b["tool_use_id"] for b in turns[2]["content"]] == ["toolu_a", "toolu_b"]
    assert turns[2]["content"][0] == {"type": "tool_result", "tool_use_id": "toolu_a", "content": "42"}
    # a user message after tool results joins their turn, after them
    _, more = translate([*AGENT, {"role": "user", "content": "Go on."}])
    assert more[-1]["content"][-1] == {"type": "text", "text": "Go on."} and len(more) == 3


def test_recorded_arguments_that_are_not_an_object_are_kept() -> None:
    odd = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}
    _, turns = translate(
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": None, "tool_calls": [odd]}]
    )
    assert turns[1]["content"] == [{"type": "tool_use", "id": "c", "name": "f", "input": {"input": [1, 2]}}]


def test_agent_step_carries_four_breakpoints_at_most() -> None:
    wire = MessagesWire()
    tools = openai_tools(["calculator", "read_file"])
    plan = wire.chat_request(
        ChatRequest(messages=AGENT, tools=tools, max_tokens=64), "claude-sonnet-4-5", HttpSettings()
    )
    body = plan.body
    assert plan.path == "/messages" and body["stream"] is True and "seed" not in body
    assert body["tools"][0] == {
        "name": "calculator",
        "input_schema": tools[0]["function"]["parameters"],
        "description": tools[0]["function"]["description"],
    }
    # the last tool, the system prompt, the turn that was newest one step ago, and the newest turn
    assert _breakpoints(body) == ["tools.1", "system.0", "messages.0.0", "messages.2.1"]
    assert body["tools"][1]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
    check_request(body, set())
    # the first step: no earlier turn, three breakpoints
    first = wire.chat_request(ChatRequest(messages=AGENT[:2], tools=tools), "m", HttpSettings()).body
    assert _breakpoints(first) == ["tools.1", "system.0", "messages.0.0"]
    one_hour = wire.chat_request(
        ChatRequest(messages=AGENT, tools=tools), "m", HttpSettings(prompt_cache="1h")
    )
    assert {json.dumps(b) for b in _cache_controls(one_hour.body)} == {'{"type": "ephemeral", "ttl": "1h"}'}
    off = wire.chat_request(ChatRequest(messages=AGENT, tools=tools), "m", HttpSettings(prompt_cache="off"))
    assert _breakpoints(off.body) == []


def _cache_controls(body: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [*(body.get("tools") or []), *(body.get("system") or [])]
    blocks += [b for t in body["messages"] for b in t["content"]]
    return [b["cache_control"] for b in blocks if "cache_control" in b]


def test_breakpoints_never_exceed_the_api_limit_and_skip_thinking() -> None:
    turns = [
        {"role": "user", "content": [{"type": "text", "text": "a"}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}]},
        {"role": "user", "content": [{"type": "text", "text": "b"}]},
    ]
    tools = [{"name": "t", "input_schema": {"type": "object"}}]
    system = [{"type": "text", "text": "s"}]
    assert place_breakpoints(tools, system, turns, "5m") == 4
    assert "cache_control" not in turns[1]["content"][0]


def test_single_shot_tasks_never_carry_breakpoints() -> None:
    task = Task.model_validate(
        {"id": "c", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
         "max_tokens": 9, "temperature": 0.0, "check": {"type": "none"}}
    )  # fmt: skip
    plan = MessagesWire().request(task, "claude-haiku-4-5", HttpSettings(), tokenizer=None, plain_chat=False)
    assert _breakpoints(plan.body) == [] and plan.body["max_tokens"] == 9 and plan.body["temperature"] == 0.0
    assert plan.body["system"] == [{"type": "text", "text": "Be brief."}]
    check_request(plan.body, set())
    raw = Task.model_validate({"id": "r", "prompt": "One, two,", "max_tokens": 3, "check": {"type": "none"}})
    plan = MessagesWire().request(raw, "m", HttpSettings(), tokenizer=None, plain_chat=False)
    assert plan.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "One, two,"}]}]


def test_thinking_budget_and_blocks_sent_back_with_the_tool_results() -> None:
    wire = MessagesWire()
    settings = HttpSettings(thinking_budget_tokens=2048)
    first = wire.chat_request(ChatRequest(messages=AGENT[:2], max_tokens=100), "m", settings).body
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert first["max_tokens"] == 2148 and "temperature" not in first
    stream = wire.new_stream()
    for ev in _events(
        _block(0, "thinking", [("thinking_delta", "thinking", "Hmm."), ("signature_delta", "signature", "sig-1")]),
        _block(1, "tool_use", [("input_json_delta", "partial_json", '{"expression": "6*7"}')], id="toolu_a", name="calculator"),
        _block(2, "tool_use", [("input_json_delta", "partial_json", '{"path": "a"}')], id="toolu_b", name="read_file"),
        stop="tool_use",
    ):  # fmt: skip
        stream.feed(json.dumps(ev), 1, ev["type"])
    assert stream.done
    body = wire.chat_request(ChatRequest(messages=AGENT, max_tokens=100), "m", settings).body
    reply = body["messages"][1]["content"]
    assert reply[0] == {"type": "thinking", "thinking": "Hmm.", "signature": "sig-1"}
    assert [b["type"] for b in reply] == ["thinking", "text", "tool_use", "tool_use"]
    check_request(body, {"sig-1"})
    with pytest.raises(BadRequest, match="must start with a thinking block"):
        check_request(MessagesWire().chat_request(ChatRequest(messages=AGENT), "m", settings).body, set())


def test_key_and_api_version_headers() -> None:
    # as the SDK sends them (tests/backends/test_messages_referee.py checks against the SDK itself)
    sent = MessagesWire().headers("k", HttpSettings())
    assert sent == {"anthropic-version": "2026-10-21", "Authorization": "Bearer k"}
    older = HttpSettings(auth_header="x-api-key", auth_scheme="")
    assert MessagesWire().headers("k", older)["x-api-key"] == "k"
    assert MessagesWire().headers(None, HttpSettings()) == {"anthropic-version": "2026-10-21"}


def test_error_bodies_name_their_type() -> None:
    body = b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
    assert MessagesWire().error_message(body) == "overloaded_error: Overloaded"
    assert MessagesWire().error_message(b"<html>bad gateway</html>") == "<html>bad gateway</html>"


# ---------------------------------------------------------------------------------------- stream
def _start(usage: dict[str, Any] | None = None) -> dict[str, Any]:
    usage = usage or {"input_tokens": 10, "output_tokens": 1}
    return {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant",
            "model": "claude-x", "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}}  # fmt: skip


def _block(index: int, kind: str, deltas: list[tuple[str, str, str]], **start: Any) -> list[dict[str, Any]]:
    empty = {"text": {"text": ""}, "thinking": {"thinking": "", "signature": ""}, "tool_use": {"input": {}}}
    out = [
        {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": kind, **empty[kind], **start},
        }
    ]
    for dtype, key, value in deltas:
        out.append({"type": "content_block_delta", "index": index, "delta": {"type": dtype, key: value}})
    return [*out, {"type": "content_block_stop", "index": index}]


def _events(*blocks: list[dict[str, Any]], stop: str = "end_turn", usage: dict[str, Any] | None = None,
            start: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    out = [_start(start), {"type": "ping"}]
    for b in blocks:
        out += b
    out.append({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": usage or {"output_tokens": 7}})  # fmt: skip
    return [*out, {"type": "message_stop"}]


def _feed(events: list[dict[str, Any]]) -> MessagesStream:
    s = MessagesStream()
    for t, ev in enumerate(events, 1):
        s.feed(json.dumps(ev), t * 10, ev["type"])
    return s


def test_stream_text_thinking_and_usage() -> None:
    events = _events(
        _block(0, "thinking", [("thinking_delta", "thinking", "Let me think."), ("signature_delta", "signature", "s")]),
        _block(1, "text", [("text_delta", "text", "The answer"), ("text_delta", "text", " is 42.")]),
        start={"input_tokens": 5, "cache_read_input_tokens": 600, "cache_creation_input_tokens": 300,
               "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
               "output_tokens": 1},
        usage={"output_tokens": 30, "output_tokens_details": {"thinking_tokens": 12}},
    )  # fmt: skip
    s = _feed(events)
    assert (
        s.done and s.end_problem() is None and s.text == "The answer is 42." and s.finish_reason == "end_turn"
    )
    assert s.first_reasoning_ns == 40 and s.content_ns == [80, 90]  # TTFT: the first visible text
    assert s.server_model == "claude-x" and s.pings == 1 and s.tool_calls == []
    # prompt = fresh + reads + writes (OpenAI's convention); thinking billed as output, kept apart
    assert s.counts() == UsageCounts(
        prompt=905, completion=18, reasoning=12, cached=600, cache_write=300, cache_write_1h=200
    )


def test_thinking_tokens_split_by_characters_when_the_api_does_not_say() -> None:
    s = _feed(_events(
        _block(0, "thinking", [("thinking_delta", "thinking", "x" * 30)]),
        _block(1, "text", [("text_delta", "text", "y" * 10)]),
        usage={"output_tokens": 20},
    ))  # fmt: skip
    assert s.counts().reasoning == 15 and s.counts().completion == 5


def test_stream_parallel_tool_calls_assembled_from_pieces() -> None:
    s = _feed(_events(
        _block(0, "text", [("text_delta", "text", "Checking.")]),
        _block(1, "tool_use", [("input_json_delta", "partial_json", '{"expr'), ("input_json_delta", "partial_json", 'ession": "6*7"}')], id="toolu_1", name="calculator"),
        _block(2, "tool_use", [("input_json_delta", "partial_json", "")], id="toolu_2", name="list_files"),
        stop="tool_use",
    ))  # fmt: skip
    assert s.tool_calls == [
        {"id": "toolu_1", "name": "calculator", "arguments": '{"expression": "6*7"}'},
        {"id": "toolu_2", "name": "list_files", "arguments": "{}"},
    ]
    assert s.finish_reason == "tool_use" and len(s.tool_ns) == 3


def test_message_delta_counts_replace_those_of_message_start() -> None:
    s = _feed(_events(start={"input_tokens": 10, "cache_read_input_tokens": 0, "output_tokens": 1},
                      usage={"output_tokens": 9, "input_tokens": 12, "cache_read_input_tokens": None}))  # fmt: skip
    assert s.counts() == UsageCounts(prompt=12, completion=9, reasoning=None, cached=0, cache_write=None)


@pytest.mark.parametrize(
    ("event", "message", "retryable"),
    [
        ('{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}', "overloaded_error", True),
        ('{"type": "error", "error": {"type": "invalid_request_error", "message": "no"}}', "invalid_request_error", False),
        ('{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"', "malformed JSON", False),
        ('{"type": "content_block_delta", "index": 7, "delta": {"type": "text_delta", "text": "x"}}', "never started", False),
        ('{"type": "message_delta", "delta": {}, "usage": {"output_tokens": -3}}', "negative", False),
    ],
)  # fmt: skip
def test_stream_faults_end_the_request(event: str, message: str, retryable: bool) -> None:
    s = _feed([_start()])
    with pytest.raises(ChunkError, match=message) as exc:
        s.feed(event, 99, "error" if '"error"' in event[:20] else "message")
    assert exc.value.retryable is retryable


def test_negative_usage_in_message_start_is_refused() -> None:
    with pytest.raises(ChunkError, match="input_tokens is negative"):
        _feed([_start({"input_tokens": -1, "output_tokens": 1})])


def test_tool_input_that_is_not_json_ends_the_request() -> None:
    s = _feed(
        [
            _start(),
            *_block(0, "tool_use", [("input_json_delta", "partial_json", '{"a": 1')], id="t", name="f")[:2],
        ]
    )
    with pytest.raises(ChunkError, match="not valid JSON"):
        s.feed('{"type": "content_block_stop", "index": 0}', 5)


def test_a_cut_stream_is_incomplete_and_says_whether_resending_helps() -> None:
    s = _feed([_start()])
    assert s.end_problem() == ("stream ended before message_stop (cut?)", True)
    s = _feed([_start(), *_block(0, "text", [("text_delta", "text", "Hi")])[:2]])
    assert s.end_problem() == ("stream ended before message_stop (cut?) after 1 content deltas", False)
    unknown = _feed([_start(), {"type": "brand_new_event", "x": 1}, {"type": "message_stop"}])
    assert unknown.end_problem() is None  # events new to this client are ignored


def test_a_whole_message_answer_is_read_like_a_stream() -> None:
    message = {"id": "m", "type": "message", "role": "assistant", "model": "claude-x", "stop_reason": "tool_use",
               "stop_sequence": None, "usage": {"input_tokens": 4, "output_tokens": 6},
               "content": [{"type": "text", "text": "Hi"},
                           {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]}  # fmt: skip
    s = MessagesStream()
    s.feed_body(json.dumps(message).encode(), 7)
    assert s.text == "Hi" and s.tool_calls == [{"id": "t1", "name": "f", "arguments": '{"a": 1}'}]
    assert s.finish_reason == "tool_use" and s.counts().prompt == 4 and s.end_problem() is None
    with pytest.raises(ChunkError, match="overloaded_error"):
        MessagesStream().feed_body(
            b'{"type": "error", "error": {"type": "overloaded_error", "message": "x"}}', 1
        )
