"""Requests and chunks of the OpenAI wire format, cache-bust prefixes, retry rules and key scrubbing."""

from __future__ import annotations

import email.utils
import json
import random

import pytest

from bench.backends.http.retry import RetryBudget, parse_retry_after
from bench.backends.http.wire import ChunkError, StreamState, build_request, error_body_message, shape_text
from bench.devices.http_settings import HttpSettings
from bench.models.tokenizer import GgufTokenizer
from bench.redaction import Redactor
from bench.run.cachebust import bust_prefix, bust_task
from bench.suite.loader import Task

CHAT = Task.model_validate(
    {
        "id": "c",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}],
        "max_tokens": 9,
        "check": {"type": "none"},
    }
)
RAW = Task.model_validate({"id": "r", "prompt": "One, two,", "max_tokens": 3, "check": {"type": "none"}})
SHAPE = Task.model_validate(
    {"id": "tg", "shape": {"prompt_tokens": 0, "gen_tokens": 16}, "check": {"type": "none"}}
)


@pytest.fixture(scope="module")
def tokenizer(smollm2) -> GgufTokenizer:  # type: ignore[no-untyped-def]
    tok = GgufTokenizer(smollm2.path)
    yield tok
    tok.close()


def test_auto_routes_chat_to_chat_and_prompts_to_completions() -> None:
    s = HttpSettings()
    chat = build_request(CHAT, "m", s)
    assert chat.path == "/chat/completions" and chat.body["messages"][1]["content"] == "Hi?"
    assert chat.body["stream"] is True and chat.body["stream_options"] == {"include_usage": True}
    assert chat.body["max_tokens"] == 9 and chat.body["temperature"] == 0.0 and chat.body["seed"] == 1234
    raw = build_request(RAW, "m", s)
    assert raw.path == "/completions" and raw.body["prompt"] == "One, two," and "stop" not in raw.body


def test_base_model_gets_the_in_process_transcript() -> None:
    plan = build_request(CHAT, "m", HttpSettings(), plain_chat=True)
    assert plan.path == "/completions" and plan.prompt_format == "plain_completion"
    assert plan.body["prompt"] == "Be brief.\n\nUser: Hi?\nAssistant:" and plan.body["stop"] == ["\nUser:"]
    assert build_request(CHAT, "m", HttpSettings(api="completions")).body["stop"] == ["\nUser:"]


def test_chat_only_endpoints_get_prompts_as_a_user_message() -> None:
    plan = build_request(RAW, "m", HttpSettings(api="chat"))
    assert plan.path == "/chat/completions" and plan.body["messages"] == [
        {"role": "user", "content": "One, two,"}
    ]


def test_profile_parameters_extra_omit_and_shape_eos() -> None:
    s = HttpSettings(
        extra_body={"repeat_penalty": 1.0},
        omit_params=["temperature", "seed"],
        max_tokens_field="max_completion_tokens",
        stream_usage=False,
        shape_eos="min_tokens",
    )
    body = build_request(SHAPE, "m", s).body
    assert body["repeat_penalty"] == 1.0 and "temperature" not in body and "seed" not in body
    assert body["max_completion_tokens"] == 16 and "max_tokens" not in body and "stream_options" not in body
    assert body["min_tokens"] == 16
    assert build_request(SHAPE, "m", HttpSettings(shape_eos="ignore_eos")).body["ignore_eos"] is True


def test_shape_text_is_exact_with_a_tokenizer_and_close_without(tokenizer: GgufTokenizer) -> None:
    for n in (1, 64, 512):
        assert tokenizer.count_prompt(shape_text(n, 7, tokenizer)) == n
        rough = tokenizer.count_prompt(shape_text(n, 7, None))
        assert abs(rough - n) <= max(2, n // 10), (n, rough)
    assert shape_text(64, 7, None) == shape_text(64, 7, None) != shape_text(64, 8, None)


def chunk(delta: dict | None = None, text: str | None = None, **extra: object) -> str:
    choice: dict = {"index": 0, "finish_reason": extra.pop("finish", None)}
    if delta is not None:
        choice["delta"] = delta
    if text is not None:
        choice["text"] = text
    return json.dumps({"id": "x", "model": "served", "choices": [choice], **extra})


def test_stream_state_chat_with_reasoning_usage_cache_and_timings() -> None:
    s = StreamState()
    s.feed(chunk({"role": "assistant"}), 1)
    s.feed(chunk({"reasoning_content": "hmm"}), 2)
    s.feed(chunk({"reasoning": "more"}), 3)
    s.feed(chunk({"content": ""}), 4)  # empty content is not a token
    s.feed(chunk({"content": "Hel"}), 5)
    s.feed(chunk({"content": "lo"}, finish="stop"), 6)
    usage = {
        "prompt_tokens": 20,
        "completion_tokens": 12,
        "completion_tokens_details": {"reasoning_tokens": 10},
        "prompt_tokens_details": {"cached_tokens": 16},
    }
    s.feed(json.dumps({"choices": [], "usage": usage, "timings": {"prompt_n": 4, "predicted_ms": 2.5}}), 7)
    s.feed("[DONE]", 8)
    assert s.text == "Hello" and s.content_ns == [5, 6] and s.finish_reason == "stop" and s.done
    assert s.reasoning_chunks == 2 and s.first_reasoning_ns == 2 and s.server_model == "served"
    assert s.usage_counts() == (20, 2, 10, 16)  # visible completion = 12 - 10 reasoning
    assert s.timings == {"prompt_n": 4.0, "predicted_ms": 2.5}


def test_stream_state_completions_and_llama_server_cache_count() -> None:
    s = StreamState()
    s.feed(chunk(text=" 3"), 1)
    s.feed(json.dumps({"choices": [], "timings": {"cache_n": 5}, "usage": {"completion_tokens": 1}}), 2)
    assert s.text == " 3" and s.usage_counts() == (None, 1, None, 5)


def test_non_streamed_answer_is_taken_whole() -> None:
    s = StreamState()
    s.feed(json.dumps({"choices": [{"message": {"content": "all at once"}, "finish_reason": "stop"}]}), 9)
    assert s.text == "all at once" and s.content_ns == [9]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ('{"choices": [{"delta": {"content": "x"}', "malformed JSON in stream frame 1"),
        ("[1, 2]", "not a JSON object"),
        ('{"error": {"message": "overloaded"}}', "server error in stream: overloaded"),
    ],
)
def test_fatal_chunks(data: str, needle: str) -> None:
    with pytest.raises(ChunkError, match=needle):
        StreamState().feed(data, 1)


def test_error_body_message() -> None:
    assert error_body_message(b'{"error": {"message": "bad key"}}') == "bad key"
    assert error_body_message(b'{"detail": "nope"}') == "nope"
    assert error_body_message(b"<html>502</html>") == "<html>502</html>"


def test_cache_bust_is_deterministic_and_unique() -> None:
    a = bust_task(CHAT, 1, 0)
    assert a.messages is not None and a.messages[0].content == bust_prefix(1, "c", 0) + "Be brief."
    assert a.messages[1:] == CHAT.messages[1:]
    assert bust_task(CHAT, 1, 0) == a
    assert len({bust_prefix(s, t, i) for s in (1, 2) for t in ("c", "r") for i in range(50)}) == 200
    raw = bust_task(RAW, 1, 3)
    assert raw.prompt == bust_prefix(1, "r", 3) + "One, two,"
    assert bust_task(SHAPE, 1, 0).seed != bust_task(SHAPE, 1, 1).seed


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    when = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"retry-after": when}, now_s=1_000_000) == pytest.approx(30, abs=1)
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after({}) is None


def test_retry_budget_counts_and_waiting_time() -> None:
    budget = RetryBudget(HttpSettings(max_retries=3, backoff_base_s=1, backoff_max_s=4), random.Random(1))
    waits = [budget.wait_for(None) for _ in range(4)]
    assert waits[3] is None and all(w is not None for w in waits[:3])
    assert all(0 <= w <= cap for w, cap in zip(waits[:3], (1, 2, 4), strict=True))  # type: ignore[operator]
    tight = RetryBudget(HttpSettings(max_retry_wait_s=10), random.Random(1))
    assert tight.wait_for(5.0) is not None and tight.wait_for(3600.0) is None


def test_redactor_scrubs_key_forms_and_credential_shapes() -> None:
    r = Redactor(["k/live+ABCDEF123456", "x"])
    text = (
        "got k/live+ABCDEF123456 and k%2Flive%2BABCDEF123456? Authorization: Bearer abcdefghijkl url?key=zzz9"
    )
    out = r.scrub(text)
    assert "ABCDEF123456" not in out and "abcdefghijkl" not in out and "zzz9" not in out
    assert "x" in r.scrub("x marks")  # too short to be a key: left alone


def test_secret_headers_are_refused_in_profiles() -> None:
    with pytest.raises(ValueError, match="api_key_env"):
        HttpSettings(headers={"Authorization": "Bearer sk-123"})
    HttpSettings(headers={"OpenAI-Organization": "org-1"})
