"""The SSE parser: every way a network can split, pad or decorate an event stream parses the same."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.backends.http.sse import SSEEvent, SSEParser

STREAM = (
    b": ping\n\n"
    b'data: {"a": 1}\n\n'
    b"\n\n"  # stray blank lines
    b"event: error\ndata: first\ndata: second\n\n"
    b":keep-alive\n"
    b"id: 7\nretry: 100\ndata:no-space\n\n"
    b'data: {"text": "caf\xc3\xa9 \xe2\x82\xac"}\n\n'
    b"data\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent('{"a": 1}'),
    SSEEvent("first\nsecond", "error"),
    SSEEvent("no-space"),
    SSEEvent('{"text": "café €"}'),
    SSEEvent(""),
    SSEEvent("[DONE]"),
]


def parse(chunks: list[bytes]) -> tuple[list[SSEEvent], int]:
    p = SSEParser()
    events = [e for c in chunks for e in p.feed(c)]
    return events + p.close(), p.comments


def test_whole_stream() -> None:
    events, comments = parse([STREAM])
    assert events == EXPECTED
    assert comments == 2


def test_every_line_ending_style() -> None:
    for sep in (b"\r\n", b"\r"):
        assert parse([STREAM.replace(b"\n", sep)])[0] == EXPECTED


def test_byte_by_byte_with_crlf_split_between_reads() -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    assert parse([crlf[i : i + 1] for i in range(len(crlf))])[0] == EXPECTED


@settings(max_examples=300, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(STREAM) * 2), max_size=30), crlf=st.booleans())
def test_any_split_parses_the_same(cuts: list[int], crlf: bool) -> None:
    blob = STREAM.replace(b"\n", b"\r\n") if crlf else STREAM
    points = sorted({c % (len(blob) + 1) for c in cuts})
    chunks = [blob[a:b] for a, b in zip([0, *points], [*points, len(blob)], strict=True)]
    assert parse(chunks)[0] == EXPECTED


def test_pending_event_without_final_blank_line_is_delivered_at_close() -> None:
    p = SSEParser()
    assert p.feed(b'data: {"x": 1}\n\ndata: [DONE]') == [SSEEvent('{"x": 1}')]
    assert p.close() == [SSEEvent("[DONE]")]


def test_event_name_resets_after_each_event() -> None:
    events, _ = parse([b"event: error\ndata: a\n\ndata: b\n\n"])
    assert events == [SSEEvent("a", "error"), SSEEvent("b", "message")]
