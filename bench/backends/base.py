"""The backend protocol: what the runner needs from an engine or an endpoint.

A backend measures; it does not judge, store or print. ``generate`` returns a ``Generation`` holding
``perf_counter_ns`` stamps taken as close to the engine as possible (the dispatch, every content event,
the stream end) plus token counts *with their source*. A per-request failure is raised as
``RequestFailed`` (carrying whatever was produced before the failure) so the runner can record it and go
on; anything that means "this backend cannot work at all" is a ``BenchError`` and stops the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.results.schema import Status, TokenCountSource
from bench.suite.loader import Task

__all__ = ["Backend", "ChatBackend", "ChatRequest", "Generation", "ProgressFn", "RequestFailed"]

# Called by a backend while a request streams: (tokens so far, ns since dispatch). Backends throttle it
# (a few calls per second) so drawing progress never costs measurable throughput.
ProgressFn = Callable[[int, int], None]


@dataclass(slots=True)
class Generation:
    """What one request produced, as raw stamps and counts."""

    t_dispatch_ns: int
    t_end_ns: int
    content_ns: list[int]
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    token_count_source: TokenCountSource | None
    finish_reason: str | None
    reasoning_tokens: int | None = None
    engine_timings: dict[str, float] | None = None
    prefill_source: str = "client"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatRequest:
    """One model call of an agent task (or of a replayed trace): OpenAI-shaped messages and tools.

    ``reuse_prefix``: keep the engine's KV cache from the previous call and prefill only the new suffix
    (an in-process engine; a server decides for itself). ``exact_tokens``: generate exactly this many
    tokens, end-of-generation ignored (trace replay reproduces recorded output lengths).
    """

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    seed: int = 1234
    reuse_prefix: bool = False
    exact_tokens: int | None = None


class RequestFailed(Exception):
    """One request failed; ``partial`` holds what it produced before failing (may be None)."""

    def __init__(self, message: str, *, status: Status = "error", partial: Generation | None = None) -> None:
        super().__init__(message)
        self.status: Status = status
        self.partial = partial


class Backend(Protocol):
    """Implemented by ``LlamaCppBackend`` (in-process) and the HTTP backend."""

    name: str

    def load(self) -> dict[str, Any]:
        """Prepare (load the model, check the endpoint); return facts for the manifest."""
        ...

    def generate(self, task: Task, *, progress: ProgressFn | None = None) -> Generation:
        """Run one request for ``task``; raise ``RequestFailed`` for a failure of this request only."""
        ...

    def close(self) -> None:
        """Free the engine or connections."""
        ...


class ChatBackend(Protocol):
    """A backend that can drive an agent: one chat call with tools. ``Generation.extra`` carries
    ``tool_calls`` (``[{"id", "name", "arguments"}]``, arguments as the JSON text the model wrote) when
    the model called tools natively, and ``cached_tokens`` (prompt tokens served from a cache)."""

    name: str

    def chat(self, request: ChatRequest, *, progress: ProgressFn | None = None) -> Generation: ...

    def native_tools(self) -> bool:
        """True when tools go to the model natively (HTTP ``tools``, or a chat template that renders
        them); False when the harness must describe them in text (docs/agents.md, text protocol)."""
        ...
