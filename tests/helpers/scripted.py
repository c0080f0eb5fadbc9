"""A chat backend that replies from a script: the agent loop's paths exercised exactly, without a model.

The end-to-end paths run real models (tests/run/test_agent_engine.py, tests/run/test_bfcl_runs.py); this
stands in where a test needs a reply it can name (an endless tool caller, a malformed call, the ground
truth of a benchmark task).
"""

from __future__ import annotations

import time
from typing import Any

from bench.backends.base import ChatRequest, Generation

__all__ = ["Scripted"]


class Scripted:
    """A chat backend that replies with the given texts in turn (or raises), timing like a model."""

    name = "scripted"

    def __init__(self, replies: list[Any], native: bool = False) -> None:
        self.replies = list(replies)
        self.requests: list[ChatRequest] = []
        self.native = native

    def native_tools(self) -> bool:
        return self.native

    def chat(self, request: ChatRequest, *, progress: Any = None) -> Generation:
        self.requests.append(request)
        t0 = time.perf_counter_ns()
        reply = self.replies.pop(0) if self.replies else "I give up."
        if isinstance(reply, Exception):
            raise reply
        extra: dict[str, Any] = {"cached_tokens": 5 * (len(self.requests) - 1)}
        text = reply
        if isinstance(reply, dict):  # native tool calls
            extra["tool_calls"], text = reply["tool_calls"], ""
        t1 = time.perf_counter_ns()
        return Generation(
            t0, t1 + 1000, [t1], text, 20 + 10 * len(self.requests), 7, "engine", "stop", extra=extra
        )
