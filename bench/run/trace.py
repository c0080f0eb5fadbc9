"""Trace replay: a recorded agent session replayed open-loop on any backend (``infercost run --trace``).

A trace is JSONL, one chat-completion request per line (``trace_file.py`` reads and validates it). Each
step sends the recorded context and generates exactly the recorded number of output
tokens (end-of-generation ignored), so two backends are compared on the same token work. Lines group
into tasks by ``task_id`` and ``repetition`` (one task, ``trace``, when absent), in file order
(infercost's warmup lines are skipped); within a task each step
after the first may reuse the previous step's KV cache (``--prefix-cache``). Where the run busts caches
(the default over HTTP), each replayed attempt's first message starts with its own prefix, replacing the
one a busted original left (``bench.run.cachebust.bust_messages``): attempts that recorded the same
conversation do not answer each other from the server's cache.

Every problem in the file is a one-line ``SuiteError`` naming the file, line and field, before anything
runs (``trace_file.py``).
"""

from __future__ import annotations

import time
from typing import Any

from bench.backends.base import ChatBackend, ChatRequest
from bench.results.schema import Record, Status
from bench.run.agent import call_model, choose_protocol
from bench.run.agent_protocol import to_text_protocol
from bench.run.cachebust import bust_messages, bust_prefix, slot_index
from bench.run.records import TaskTally
from bench.run.runner import ProgressEvent, Runner, utc_now
from bench.run.trace_file import TraceStep, load_trace, steps_by_task, trace_suite
from bench.suite.checks import CheckResult
from bench.suite.loader import Task

__all__ = ["TraceRunner", "TraceStep", "load_trace", "steps_by_task", "trace_suite"]


class TraceRunner(Runner):
    """Replays each traced task's steps in order; one ``model`` record per step and an ``agent``
    summary per task (model time only: tools are not re-run in an open-loop replay). Both are built by
    the agent loop's factory, so a replayed task's summary counts tokens by tier exactly as the live
    loop did (reasoning and cache writes included) and prices the same."""

    def __init__(
        self,
        *args: Any,
        steps: list[TraceStep],
        prefix_cache: bool = True,
        protocol: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.steps = steps_by_task(steps)
        self.prefix_cache = prefix_cache
        self.chat_backend: ChatBackend = self.backend  # type: ignore[assignment]
        self.protocol = choose_protocol(self.chat_backend, protocol)

    def _request(self, s: TraceStep, prefix: str | None) -> ChatRequest:
        native = self.protocol == "native_tools" or not s.tools
        messages = s.messages if prefix is None else bust_messages(s.messages, prefix)
        return ChatRequest(
            messages=messages if native else to_text_protocol(messages, s.tools or []),
            tools=s.tools if native else None,
            max_tokens=max(s.completion_tokens, 1),
            temperature=s.temperature,
            seed=s.seed,
            reuse_prefix=self.prefix_cache and s.step > 0,
            exact_tokens=s.completion_tokens,
        )

    def _one(self, index: int, task: Task, repetition: int, warmup: bool) -> Record:
        base = ProgressEvent(
            kind="request_start", task_index=index, n_tasks=len(self.suite.tasks), task_id=task.id,
            repetition=repetition, warmup=warmup, done_requests=self._done,
            total_requests=max(self._total, self._done + 1),
        )  # fmt: skip
        self._emit(base)
        t0, started = time.perf_counter_ns(), utc_now()
        tally = TaskTally()
        status: Status = "ok"
        error: str | None = None
        prefix = None  # cache busting: one prefix per replayed attempt, shared by its steps
        if self.settings.cache_bust:
            slot = slot_index(self.settings.warmup, repetition, warmup)
            prefix = bust_prefix(self.settings.seed, task.id, slot)
        for s in self.steps.get(task.id, []):
            call_started, t_call = utc_now(), time.perf_counter_ns()
            gen, status, error = call_model(self.chat_backend, self._request(s, prefix))
            recorded = (
                f"recorded prompt_tokens {s.prompt_tokens}, completion_tokens {s.completion_tokens}"
                if s.prompt_tokens is not None
                else None
            )
            self.writer.append(
                self.records.model_call(
                    task, repetition, warmup, s.step, started_utc=call_started, t_fallback_ns=t_call,
                    gen=gen, status=status, error=error, check_detail=recorded,
                )
            )  # fmt: skip
            tally.add_model(gen, t_call)
            if status != "ok":
                break
        summary = self.records.agent_summary(
            task, repetition, warmup, started_utc=started, t_start_ns=t0, t_end_ns=time.perf_counter_ns(),
            tally=tally, status=status, error=error, stop="answer" if status == "ok" else "error",
            verdict=CheckResult(None, "trace replay: no verdict"), final_text=None,
        )  # fmt: skip
        self.writer.append(summary)
        self._finished(base, summary)
        return summary
