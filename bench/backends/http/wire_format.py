"""What the HTTP client needs from one API's wire format, and what every wire format shares.

The client (``bench.backends.http.client``) owns everything that does not depend on the API: the
connection pool, pacing, the watchdog, retries (``retry``), the SSE reader (``sse``) and turning what
arrived into a ``Generation``. A wire format owns the rest: how a task or an agent step becomes a request
body, which headers carry the key and the API version, and how the stream's events add up to text,
tool calls, a stop reason and usage. ``bench.backends.http.wire`` is OpenAI's chat/completions format;
``bench.backends.http.messages`` is Anthropic's Messages API. A third (Gemini's ``generateContent``,
OpenAI's Responses API) is one more module implementing ``WireFormat`` and ``StreamAccumulator``, and one
line in ``client.WIRE_FORMATS`` (docs/http.md, "Adding a native API").

Token numbers read off the wire pass ``check_usage``: a negative count is not a count, and ends the
request as an error record rather than becoming a negative bill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bench.devices.http_settings import HttpSettings

if TYPE_CHECKING:
    from bench.backends.base import ChatRequest
    from bench.models.tokenizer import GgufTokenizer
    from bench.suite.loader import Task

__all__ = [
    "ChunkError",
    "RequestPlan",
    "StreamAccumulator",
    "UsageCounts",
    "WireFormat",
    "check_usage",
    "token_count",
]


class ChunkError(Exception):
    """A frame that ends the request: malformed JSON, an error object or event from the server, a tool
    call whose pieces do not add up. ``retryable``: the server said it was busy (overloaded, rate
    limited) before delivering anything, so the request may go again within its retry budget."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def token_count(value: Any) -> int | None:
    """A token count as sent (None: absent, or not a whole number)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# More tokens than any model reads or writes in one request (the largest contexts are ~10M): a count
# above this is a hostile or broken endpoint, not a measurement, and would be priced as one.
MAX_TOKEN_COUNT = 100_000_000


def check_usage(usage: Mapping[str, Any], where: str) -> None:
    """Refuse a usage object holding a count that cannot be real anywhere (nested details included):
    negative, above ``MAX_TOKEN_COUNT``, or — under a key that names tokens — not a whole number
    (``1e18``, ``true``, ``NaN``). The request becomes an error record: kept, flagged, not priced."""
    for key, value in usage.items():
        if isinstance(value, Mapping):
            check_usage(value, f"{where}.{key}")
        elif (count := token_count(value)) is not None and count < 0:
            raise ChunkError(f"{where}.{key} is negative ({count}): not a token count")
        elif count is not None and count > MAX_TOKEN_COUNT:
            raise ChunkError(f"{where}.{key} is {count}: more tokens than any request holds")
        elif "token" in key.lower() and isinstance(value, (bool, float)) and not _whole_float(value):
            raise ChunkError(f"{where}.{key} is {value!r}: not a whole number of tokens")


def _whole_float(value: bool | float) -> bool:
    """An integral float in range (``12.0``, as some proxies re-serialize counts); never a bool."""
    return not isinstance(value, bool) and value.is_integer() and 0 <= value <= MAX_TOKEN_COUNT


@dataclass(frozen=True, slots=True)
class UsageCounts:
    """One response's token counts in OpenAI's convention: ``prompt`` includes cache reads (``cached``)
    and writes (``cache_write``, of which ``cache_write_1h`` at the 1-hour TTL); ``completion`` is the
    visible output, ``reasoning`` the hidden part (both billed as output). None: not reported."""

    prompt: int | None = None
    completion: int | None = None
    reasoning: int | None = None
    cached: int | None = None
    cache_write: int | None = None
    cache_write_1h: int | None = None


@dataclass(frozen=True)
class RequestPlan:
    """What to POST where, and how the prompt was formatted (recorded in the manifest)."""

    path: str  # "/chat/completions", "/completions", "/messages"
    body: dict[str, Any]
    prompt_format: str  # "chat" | "completion" | "plain_completion" | "shape_text" | "messages"
    messages: list[dict[str, Any]] | None
    prompt: str | None
    stops: list[str]


class StreamAccumulator(Protocol):
    """One response, accumulated event by event as the client reads it (stamps are ``perf_counter_ns``
    of the network read that delivered the event)."""

    pieces: list[str]  # visible text, as it arrived
    content_ns: list[int]  # arrival of each piece of visible text
    tool_ns: list[int]  # arrival of each piece of a tool call
    first_reasoning_ns: int | None  # arrival of the first hidden-reasoning (thinking) token
    finish_reason: str | None
    finish_ns: int | None  # arrival of the event that carried the stop reason
    timings: dict[str, float] | None  # the server's own timings, where it sends them (llama.cpp)
    server_model: str | None
    done: bool  # the stream's own end marker arrived ([DONE], message_stop)

    def feed(self, data: str, t_ns: int, event: str = "message") -> None:
        """One SSE event; raises ``ChunkError`` for one that ends the request."""
        ...

    def feed_body(self, raw: bytes, t_ns: int) -> None:
        """A whole JSON answer (a server that ignored ``stream``); raises ``ChunkError`` if it is not one."""
        ...

    def end_problem(self) -> tuple[str, bool] | None:
        """Why a stream that has ended is not a whole response, and whether resending may help (None:
        it is whole)."""
        ...

    def counts(self) -> UsageCounts: ...

    @property
    def text(self) -> str: ...

    @property
    def tool_calls(self) -> list[dict[str, str]]:
        """Native tool calls as ``{"id", "name", "arguments"}`` (arguments: JSON text)."""
        ...


class WireFormat(Protocol):
    """One API's requests and responses (see the module docstring)."""

    backend: str  # the profile's ``backend`` value and the manifest's backend name
    engine: str  # what the manifest calls the endpoint
    prompt_format: str  # how chat tasks are sent, as the manifest records it
    text_completions: bool  # the API also takes plain text prompts (base models: ``[http] api``)

    def headers(self, key: str | None, settings: HttpSettings) -> dict[str, str]:
        """Headers for every request: the key (None: no key) and whatever the API requires."""
        ...

    def request(
        self, task: Task, model: str, settings: HttpSettings, *, tokenizer: GgufTokenizer | None,
        plain_chat: bool,
    ) -> RequestPlan: ...  # fmt: skip

    def chat_request(self, request: ChatRequest, model: str, settings: HttpSettings) -> RequestPlan:
        """One agent step (or trace step) with native tools."""
        ...

    def new_stream(self) -> StreamAccumulator: ...

    def error_message(self, body: bytes) -> str:
        """The human part of an error response body."""
        ...
