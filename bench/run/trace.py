"""Trace replay: a recorded agent session replayed open-loop on any backend (``infercost run --trace``).

A trace is JSONL, one chat-completion request per line (``trace_file.py`` reads and validates it). Each
step sends the recorded context and generates exactly the recorded number of output
tokens (end-of-generation ignored), so two backends are compared on the same token work. Lines group
into tasks by ``task_id`` and ``repetition`` (one task, ``trace``, when absent), in file order
(infercost's warmup lines are skipped); within a task each step
after the first may reuse the previous step's KV cache (``--prefix-cache``).

Every problem in the file is a one-line ``SuiteError`` naming the file, line and field, before anything
runs (``trace_file.py``).
"""

from __future__ import annotations

import time
from typing import Any

from bench.backends.base import ChatBackend, ChatRequest, Generation, RequestFailed
from bench.errors import BenchError
from bench.results.schema import Record
from bench.run.agent import AgentLoop, choose_protocol
from bench.run.agent_protocol import to_text_protocol
from bench.run.runner import ProgressEvent, Runner, _peak_rss_mb, utc_now
from bench.run.trace_file import TraceStep, load_trace, steps_by_task, trace_suite
from bench.suite.loader import Task

__all__ = ["TraceRunner", "TraceStep", "load_trace", "steps_by_task", "trace_suite"]


class TraceRunner(Runner):
    """Replays each traced task's steps in order; one ``model`` record per step and an ``agent``
    summary per task (model time only: tools are not re-run in an open-loop replay)."""

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
        self.loop = AgentLoop(
            self.chat_backend,
            run_id=self.run_id,
            anchor_ns=self.anchor_ns,
            append=self.writer.append,
            no_text=self.settings.no_text,
        )

    def _request(self, s: TraceStep) -> ChatRequest:
        native = self.protocol == "native_tools" or not s.tools
        return ChatRequest(
            messages=s.messages if native else to_text_protocol(s.messages, s.tools or []),
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
        model_ns = prompt = out = cached = 0
        status, error = "ok", None
        n = 0
        for s in self.steps.get(task.id, []):
            call_started, t_call = utc_now(), time.perf_counter_ns()
            gen: Generation | None = None
            try:
                gen = self.chat_backend.chat(self._request(s))
            except RequestFailed as exc:
                gen, status, error = exc.partial, exc.status, str(exc)
            except BenchError:
                raise
            except Exception as exc:
                status, error = "error", f"{type(exc).__name__}: {exc}"
            rec = self.loop._model_record(
                task, repetition, warmup, s.step, call_started, gen, status, error, t_call
            )
            if s.prompt_tokens is not None:
                rec = rec.model_copy(
                    update={
                        "check_detail": f"recorded prompt_tokens {s.prompt_tokens}, "
                        f"completion_tokens {s.completion_tokens}"
                    }
                )
            self.writer.append(rec)
            n += 1
            if gen is not None:
                model_ns += gen.t_end_ns - gen.t_dispatch_ns
                prompt += gen.prompt_tokens or 0
                out += gen.completion_tokens or 0
                cached += gen.extra.get("cached_tokens") or 0
            if status != "ok":
                break
        t1 = time.perf_counter_ns()
        wall = t1 - t0
        summary = Record(
            run_id=self.run_id, task_id=task.id, category=task.category, repetition=repetition, warmup=warmup,
            kind="agent", status=status, error=error, started_utc=started,
            start_ns=t0 - self.anchor_ns, end_ns=t1 - self.anchor_ns, e2e_ms=wall / 1e6,
            prompt_tokens=prompt, completion_tokens=out, cached_tokens=cached,
            input_fresh_tokens=prompt - cached,
            prefix_hit_ratio=round(cached / prompt, 4) if prompt else None,
            steps=n, model_calls=n, tool_calls=0,
            tool_errors=0, stop_reason="answer" if status == "ok" else "error", wall_s=wall / 1e9,
            model_s=model_ns / 1e9, tool_s=0.0, harness_s=max(wall - model_ns, 0) / 1e9,
            check_detail="trace replay: no verdict", peak_rss_mb=_peak_rss_mb(),
        )  # fmt: skip
        self.writer.append(summary)
        self._finished(base, summary)
        return summary
