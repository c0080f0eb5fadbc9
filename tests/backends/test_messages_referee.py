"""The official ``anthropic`` SDK as the referee of the native Messages backend.

1. The fake server's recorded byte streams (text, parallel tool calls, thinking, cache writes and reads)
   go through the SDK's own streaming path (``messages.stream(...).get_final_message()`` over a transport
   that replays the bytes) and through infercost's (``SSEParser`` + ``MessagesStream``, the bytes split at
   arbitrary places): text, tool calls, stop reason and every usage count must be identical.
2. The SDK client talks to the fake server for real (streamed and whole answers): what the SDK sends, the
   fake accepts; what the fake answers, the SDK parses; and infercost's backend, asked the same, reports
   the same.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.backends.base import ChatRequest
from bench.backends.http.client import HttpBackend
from bench.backends.http.messages import MessagesWire
from bench.backends.http.messages_stream import MessagesStream
from bench.backends.http.sse import SSEParser
from bench.devices.http_settings import HttpSettings
from bench.devices.profiles import DeviceProfile
from bench.suite.loader import Task
from bench.suite.tools import openai_tools
from tests.servers.fake_anthropic import messages_server

KEY = "sk-ant-referee-0123456789"
MODEL = "claude-sonnet-4-5"
QUESTION = [{"role": "user", "content": "Which files are there, and what is 6*7? " * 40}]


@pytest.fixture(scope="module")
def recorded() -> Iterator[dict[str, bytes]]:
    """Byte streams the fake sent for requests infercost built: name → bytes."""
    server = messages_server(min_cacheable_tokens=100)
    wire = MessagesWire()
    tools = openai_tools(["list_files", "calculator"])
    streams: dict[str, bytes] = {}
    try:
        client = httpx2.Client(base_url=f"http://127.0.0.1:{server.port}/v1")

        def send(name: str, body: dict[str, Any]) -> None:
            resp = client.post("/messages", json=body, headers={"anthropic-version": "2023-06-01"})
            assert resp.status_code == 200, resp.text
            streams[name] = server.app.sent[-1]

        text = Task.model_validate({"id": "t", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 20,
                                    "check": {"type": "none"}})  # fmt: skip
        send("text", wire.request(text, MODEL, HttpSettings(), tokenizer=None, plain_chat=False).body)
        send("max_tokens", wire.request(text.model_copy(update={"max_tokens": 3}), MODEL, HttpSettings(),
                                        tokenizer=None, plain_chat=False).body)  # fmt: skip
        step = ChatRequest(messages=QUESTION, tools=tools, max_tokens=64)
        send("tools_cache_write", wire.chat_request(step, MODEL, HttpSettings()).body)
        send("tools_cache_read", wire.chat_request(step, MODEL, HttpSettings()).body)
        send("thinking_1h", wire.chat_request(step, MODEL, HttpSettings(thinking_budget_tokens=1024,
                                                                        prompt_cache="1h")).body)  # fmt: skip
        yield streams
    finally:
        server.stop()


def sdk_message(raw: bytes) -> anthropic.types.Message:
    """The SDK's own reading of a recorded stream (its SSE decoder, stream and accumulator)."""

    def replay(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=raw)

    client = anthropic.Anthropic(
        api_key=KEY, base_url="http://fake.invalid", max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(replay)),
    )  # fmt: skip
    with client.messages.stream(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "x"}]) as s:
        return s.get_final_message()


def infercost_stream(raw: bytes, cuts: list[int]) -> MessagesStream:
    parser, state = SSEParser(), MessagesStream()
    bounds = [0, *sorted(c % (len(raw) + 1) for c in cuts), len(raw)]
    for t, (a, b) in enumerate(itertools.pairwise(bounds)):
        for ev in parser.feed(raw[a:b]):
            state.feed(ev.data, t, ev.event)
    for ev in parser.close():
        state.feed(ev.data, len(bounds), ev.event)
    return state


def assert_same(message: anthropic.types.Message, state: MessagesStream) -> None:
    assert state.done and state.end_problem() is None
    assert state.text == "".join(b.text for b in message.content if b.type == "text")
    sdk_calls = [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in state.tool_calls] == sdk_calls
    sdk_thinking = [{"type": "thinking", "thinking": b.thinking, "signature": b.signature}
                    for b in message.content if b.type == "thinking"]  # fmt: skip
    assert state.thinking_blocks() == sdk_thinking
    assert state.finish_reason == message.stop_reason and state.server_model == message.model
    u, counts = message.usage, state.counts()
    read, write = u.cache_read_input_tokens or 0, u.cache_creation_input_tokens or 0
    assert counts.prompt == u.input_tokens + read + write
    assert counts.cached == u.cache_read_input_tokens and counts.cache_write == u.cache_creation_input_tokens
    one_hour = u.cache_creation.ephemeral_1h_input_tokens if u.cache_creation else None
    assert counts.cache_write_1h == one_hour
    assert (counts.completion or 0) + (counts.reasoning or 0) == u.output_tokens
    details = u.output_tokens_details
    assert counts.reasoning == (details.thinking_tokens if details else None)


NAMES = ["text", "max_tokens", "tools_cache_write", "tools_cache_read", "thinking_1h"]


@pytest.mark.parametrize("name", NAMES)
def test_recorded_streams_read_the_same_as_the_sdk_reads_them(recorded: dict[str, bytes], name: str) -> None:
    raw = recorded[name]
    message = sdk_message(raw)
    assert_same(message, infercost_stream(raw, []))
    rng = random.Random(name)
    for _ in range(20):  # the same bytes split at arbitrary places, as the network may deliver them
        assert_same(
            message, infercost_stream(raw, [rng.randrange(len(raw)) for _ in range(rng.randint(1, 40))])
        )


def test_the_recordings_cover_what_they_claim(recorded: dict[str, bytes]) -> None:
    msgs = {n: sdk_message(recorded[n]) for n in NAMES}
    assert msgs["text"].stop_reason == "end_turn" and msgs["max_tokens"].stop_reason == "max_tokens"
    tools = [b for b in msgs["tools_cache_write"].content if b.type == "tool_use"]
    assert len(tools) == 2 and msgs["tools_cache_write"].stop_reason == "tool_use"  # parallel calls
    write, read = msgs["tools_cache_write"].usage, msgs["tools_cache_read"].usage
    assert write.cache_creation_input_tokens and not write.cache_read_input_tokens
    assert (
        read.cache_read_input_tokens == write.cache_creation_input_tokens
        and not read.cache_creation_input_tokens
    )
    thinking = msgs["thinking_1h"]
    assert thinking.content[0].type == "thinking" and thinking.usage.output_tokens_details is not None
    # new thinking settings: the tools are read, the messages written anew, at the 1-hour TTL
    assert thinking.usage.cache_read_input_tokens and thinking.usage.cache_creation
    assert (
        thinking.usage.cache_creation.ephemeral_1h_input_tokens
        == thinking.usage.cache_creation_input_tokens
        > 0
    )


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30), name=st.sampled_from(NAMES))
def test_any_split_of_any_recording_reads_the_same(
    recorded: dict[str, bytes], cuts: list[int], name: str
) -> None:
    raw = recorded[name]
    assert_same(sdk_message(raw), infercost_stream(raw, cuts))


# ----------------------------------------------------------------------------- the SDK, for real
@pytest.fixture
def live() -> Iterator[Any]:
    server = messages_server(key=KEY, min_cacheable_tokens=100)
    yield server
    server.stop()


def test_sdk_and_infercost_against_the_live_fake(live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = anthropic.Anthropic(api_key=KEY, base_url=f"http://127.0.0.1:{live.port}", max_retries=0)
    tools = [{"name": "calculator", "description": "arithmetic", "input_schema": {"type": "object", "properties":
              {"expression": {"type": "string"}}, "required": ["expression"]}}]  # fmt: skip
    with client.messages.stream(model=MODEL, max_tokens=64, messages=QUESTION, tools=tools) as s:
        streamed = s.get_final_message()
    whole = client.messages.create(model=MODEL, max_tokens=64, messages=QUESTION, tools=tools)
    assert [b.type for b in streamed.content] == ["tool_use"] == [b.type for b in whole.content]
    assert streamed.content[0].input == {"expression": "6 * 7"} == whole.content[0].input

    monkeypatch.setenv("REFEREE_KEY", KEY)
    device = DeviceProfile(name="fake", backend="anthropic_messages", model=MODEL, api_key_env="REFEREE_KEY",
                           base_url=f"http://127.0.0.1:{live.port}/v1")  # fmt: skip
    backend = HttpBackend(device)
    backend.load()
    try:
        gen = backend.chat(ChatRequest(messages=QUESTION, tools=openai_tools(["calculator"]), max_tokens=64))
    finally:
        backend.close()
    assert gen.finish_reason == streamed.stop_reason == "tool_use"
    assert [(c["name"], json.loads(c["arguments"])) for c in gen.extra["tool_calls"]] == [
        ("calculator", streamed.content[0].input)
    ]
    assert gen.completion_tokens == streamed.usage.output_tokens
    assert set(live.app.seen_keys) == {KEY}


def test_infercost_sends_the_key_and_version_headers_the_sdk_sends() -> None:
    seen: list[dict[str, str]] = []

    def capture(request: httpx2.Request) -> httpx2.Response:
        seen.append(dict(request.headers))
        return httpx2.Response(
            400, json={"type": "error", "error": {"type": "invalid_request_error", "message": "x"}}
        )

    client = anthropic.Anthropic(api_key=KEY, base_url="http://fake.invalid", max_retries=0,
                                 http_client=httpx2.Client(transport=httpx2.MockTransport(capture)))  # fmt: skip
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}])
    ours = {k.lower(): v for k, v in MessagesWire().headers(KEY, HttpSettings()).items()}
    assert ours == {k: seen[0][k] for k in ("authorization", "anthropic-version")}
