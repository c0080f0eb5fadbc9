"""The record factory: every record a run writes is built here, and only here.

A run writes four kinds of records (``Record.kind``): None for a single-shot request (the sequential
runner, the HTTP load runner, the in-process batched runner and the pytest plugin), ``model``
and ``tool`` (one call inside an agent task: the agent loop and trace replay) and ``agent`` (the task's
summary). Building each in one place is what keeps them comparable: a field the wire learns to report
(reasoning tokens, cache writes) reaches every record kind at once, and an agent task's summary means
the same whether the loop ran it live or a trace replayed it — a replay against the same priced endpoint
therefore costs what the original did (``tests/run/test_trace_cost.py``).

``TaskTally`` is what an agent task adds up over its calls (time split, tokens by tier, tool counts);
the summary is built from it, so the live loop and the replay cannot count differently. Judging an
answer (``bench.suite.checks``) is not done here: the caller passes the verdict in.
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.backends.base import Generation
from bench.results.metrics import derive_timing
from bench.results.schema import Record, Status, StopReason, TokenCountSource
from bench.run.agent_protocol import ParsedCall
from bench.suite.checks import CheckResult
from bench.suite.loader import Task
from bench.suite.tools import ToolResult

__all__ = [
    "RecordFactory",
    "TaskTally",
    "calls_field",
    "generation_fields",
    "peak_rss_mb",
    "prompt_text",
    "sha256_text",
]

_TOOL_DETAIL_CHARS = 300  # a failed tool's message, kept on its record for reading without the text


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prompt_text(task: Task) -> str:
    """What a task asks, as the text its ``prompt_sha256`` is taken over (messages as JSON)."""
    if task.messages is not None:
        return json.dumps([m.model_dump() for m in task.messages], ensure_ascii=False)
    if task.prompt is not None:
        return task.prompt
    return task.shape.label if task.shape else ""


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (the engine's footprint, for in-process runs)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def generation_fields(gen: Generation, anchor_ns: int) -> dict[str, Any]:
    """A finished generation as ``Record`` fields, for single requests and agent model calls alike: the
    raw stamps relative to the run's anchor, the timing derived from them, token counts, and the
    backend's raw facts (``extra``: fields Record declares, such as n_chunks or cached_tokens; the rest
    it ignores)."""
    timing = derive_timing(
        gen.t_dispatch_ns, gen.content_ns, gen.t_end_ns, gen.completion_tokens, gen.prompt_tokens
    )
    return {
        "start_ns": gen.t_dispatch_ns - anchor_ns,
        "end_ns": gen.t_end_ns - anchor_ns,
        "ttft_ms": timing.ttft_ms,
        "e2e_ms": timing.e2e_ms,
        "itl_ms": [round(x, 4) for x in timing.itl_ms],
        "tpot_ms": timing.tpot_ms,
        "decode_tps": timing.decode_tps,
        "prefill_tps": timing.prefill_tps,
        "prefill_source": gen.prefill_source,
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens,
        "reasoning_tokens": gen.reasoning_tokens,
        "token_count_source": gen.token_count_source,
        "finish_reason": gen.finish_reason,
        "engine_timings": gen.engine_timings,
        # the reassembled native tool calls are the agent loop's to run, not a record field (an agent
        # summary's ``tool_calls`` is a count; what a reply called is ``calls``)
        **{k: v for k, v in gen.extra.items() if k != "tool_calls"},
    }


def calls_field(calls: Sequence[ParsedCall]) -> list[dict[str, str]]:
    """A reply's tool calls as ``Record.calls`` keeps them: name and arguments as the model wrote them."""
    return [{"name": c.name, "arguments": c.arguments_text} for c in calls]


def _extra_tokens(gen: Generation, name: str) -> int:
    value = gen.extra.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass
class TaskTally:
    """What one attempt at an agent task adds up over its calls: the summary record's inputs.

    Model time is Σ dispatch → stream end per call (a call that produced nothing counts from its
    dispatch to when it failed); tokens are summed by tier, as the API bills them."""

    model_ns: int = 0
    tool_ns: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    model_calls: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    tool_cpu_s: float = 0.0
    tool_peak_rss_mb: float | None = None
    sources: set[TokenCountSource] = field(default_factory=set)

    @property
    def used_tokens(self) -> int:
        """Tokens counted against the task's budget (``max_tokens_total``)."""
        return self.prompt_tokens + self.completion_tokens

    def add_model(self, gen: Generation | None, t_call_ns: int) -> None:
        self.model_calls += 1
        if gen is None:
            self.model_ns += time.perf_counter_ns() - t_call_ns
            return
        self.model_ns += gen.t_end_ns - gen.t_dispatch_ns
        self.prompt_tokens += gen.prompt_tokens or 0
        self.completion_tokens += gen.completion_tokens or 0
        self.reasoning_tokens += gen.reasoning_tokens or 0
        self.cached_tokens += _extra_tokens(gen, "cached_tokens")
        self.cache_write_tokens += _extra_tokens(gen, "cache_write_tokens")
        self.cache_write_1h_tokens += _extra_tokens(gen, "cache_write_1h_tokens")
        if gen.token_count_source:
            self.sources.add(gen.token_count_source)

    def add_tool(self, result: ToolResult) -> None:
        self.tool_calls += 1
        self.tool_errors += int(result.error)
        self.tool_ns += result.wall_ns
        self.tool_cpu_s += result.cpu_s
        if result.peak_rss_mb is not None:
            self.tool_peak_rss_mb = max(self.tool_peak_rss_mb or 0.0, result.peak_rss_mb)


@dataclass(frozen=True)
class RecordFactory:
    """Builds the records of one run: ``anchor_ns`` makes every stamp relative to the manifest's anchor;
    ``no_text`` keeps prompts' answers and tool outputs out of the bundle (``--no-text``)."""

    run_id: str
    anchor_ns: int
    no_text: bool = False

    def _identity(self, task: Task, repetition: int, warmup: bool, step: int | None) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "task_id": task.id,
            "category": task.category,
            "repetition": repetition,
            "warmup": warmup,
            "step": step,
        }

    def _text(self, text: str | None) -> str | None:
        return None if self.no_text else text

    def _generated(self, gen: Generation | None, t_fallback_ns: int) -> dict[str, Any]:
        """A generation's fields; without one, the window from the fallback stamp to now."""
        if gen is None:
            return {
                "start_ns": t_fallback_ns - self.anchor_ns,
                "end_ns": time.perf_counter_ns() - self.anchor_ns,
            }
        return {
            **generation_fields(gen, self.anchor_ns),
            "output_text": self._text(gen.text),
            "output_sha256": sha256_text(gen.text),
        }

    def request(
        self,
        task: Task,
        repetition: int,
        warmup: bool,
        *,
        started_utc: str,
        t_fallback_ns: int,
        gen: Generation | None,
        status: Status,
        error: str | None,
        verdict: CheckResult,
        calls: Sequence[ParsedCall] | None = None,
    ) -> Record:
        """One single-shot request (``kind`` None), judged by the caller. ``calls``: what a reply to a
        task that offers tools called (kept even when empty: the check judged it)."""
        return Record(
            **self._identity(task, repetition, warmup, None),
            status=status,
            error=error,
            started_utc=started_utc,
            passed=verdict.passed,
            check_detail=verdict.detail,
            prompt_sha256=sha256_text(prompt_text(task)),
            peak_rss_mb=peak_rss_mb(),
            shape=task.shape.label if task.shape else None,
            calls=None if calls is None else calls_field(calls),
            **self._generated(gen, t_fallback_ns),
        )

    def model_call(
        self,
        task: Task,
        repetition: int,
        warmup: bool,
        step: int,
        *,
        started_utc: str,
        t_fallback_ns: int,
        gen: Generation | None,
        status: Status,
        error: str | None,
        calls: Sequence[ParsedCall] = (),
        turn: int | None = None,
        check_detail: str | None = None,
    ) -> Record:
        """One model call of an agent task (``kind = "model"``): ``calls`` the reply made, ``turn`` the
        user turn of a multi-turn task; ``prefix_hit_ratio`` where the backend says how much of the
        prompt came from a cache."""
        fields = self._generated(gen, t_fallback_ns)
        cached = gen.extra.get("cached_tokens") if gen is not None else None
        if gen is not None and gen.prompt_tokens and isinstance(cached, int):
            fields["prefix_hit_ratio"] = round(cached / gen.prompt_tokens, 4)
        if calls:
            fields["calls"] = calls_field(calls)
        return Record(
            **self._identity(task, repetition, warmup, step),
            kind="model",
            status=status,
            error=error,
            started_utc=started_utc,
            check_detail=check_detail,
            peak_rss_mb=peak_rss_mb(),
            turn=turn,
            **fields,
        )

    def tool_call(
        self,
        task: Task,
        repetition: int,
        warmup: bool,
        step: int,
        *,
        started_utc: str,
        t_start_ns: int,
        result: ToolResult,
        arguments_text: str,
    ) -> Record:
        """One tool call of an agent task (``kind = "tool"``): its wall time, the child's CPU and memory,
        and its output (what the model was shown)."""
        return Record(
            **self._identity(task, repetition, warmup, step),
            kind="tool",
            status="ok",
            started_utc=started_utc,
            start_ns=t_start_ns - self.anchor_ns,
            end_ns=t_start_ns + result.wall_ns - self.anchor_ns,
            e2e_ms=result.wall_ns / 1e6,
            tool_name=result.name,
            tool_error=result.error,
            check_detail=result.content[:_TOOL_DETAIL_CHARS] if result.error else None,
            tool_cpu_s=round(result.cpu_s, 6),
            tool_peak_rss_mb=result.peak_rss_mb,
            tool_output_bytes=result.output_bytes,
            output_text=self._text(result.content),
            prompt_sha256=sha256_text(arguments_text),
        )

    def agent_summary(
        self,
        task: Task,
        repetition: int,
        warmup: bool,
        *,
        started_utc: str,
        t_start_ns: int,
        t_end_ns: int,
        tally: TaskTally,
        status: Status,
        error: str | None,
        stop: StopReason,
        verdict: CheckResult,
        final_text: str | None,
    ) -> Record:
        """The task's summary (``kind = "agent"``): its whole window, the time split (harness = wall −
        model − tool, never negative), tokens by tier, counts, the stop reason and the verdict.
        ``final_text`` None: the attempt has no answer of its own (a trace replay)."""
        wall_ns = t_end_ns - t_start_ns
        prompt, cached = tally.prompt_tokens, tally.cached_tokens
        return Record(
            **self._identity(task, repetition, warmup, None),
            kind="agent",
            status=status,
            error=error,
            started_utc=started_utc,
            start_ns=t_start_ns - self.anchor_ns,
            end_ns=t_end_ns - self.anchor_ns,
            e2e_ms=wall_ns / 1e6,
            prompt_tokens=prompt,
            completion_tokens=tally.completion_tokens,
            reasoning_tokens=tally.reasoning_tokens or None,
            cached_tokens=cached,
            cache_write_tokens=tally.cache_write_tokens or None,
            cache_write_1h_tokens=tally.cache_write_1h_tokens or None,
            input_fresh_tokens=prompt - cached,
            prefix_hit_ratio=round(cached / prompt, 4) if prompt else None,
            token_count_source=next(iter(tally.sources)) if len(tally.sources) == 1 else None,
            passed=verdict.passed,
            check_detail=verdict.detail,
            output_text=self._text(final_text),
            output_sha256=sha256_text(final_text) if final_text is not None else None,
            prompt_sha256=sha256_text(prompt_text(task)),
            peak_rss_mb=peak_rss_mb(),
            steps=tally.model_calls,
            model_calls=tally.model_calls,
            tool_calls=tally.tool_calls,
            tool_errors=tally.tool_errors,
            stop_reason=stop,
            wall_s=wall_ns / 1e9,
            model_s=tally.model_ns / 1e9,
            tool_s=tally.tool_ns / 1e9,
            harness_s=max(wall_ns - tally.model_ns - tally.tool_ns, 0) / 1e9,
            tool_cpu_s=round(tally.tool_cpu_s, 6),
            tool_peak_rss_mb=tally.tool_peak_rss_mb,
        )
