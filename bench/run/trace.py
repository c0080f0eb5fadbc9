"""Trace replay: a recorded agent session replayed open-loop on any backend (``infercost run --trace``).

A trace is JSONL, one chat-completion request per line, as infercost writes ``trace.jsonl`` for every
agent run and as OpenAI-format proxy logs look: the request (``messages``, optional ``tools``) either at
the top level or under ``request``, and the recorded usage (``usage`` at the top level or under
``response``). Each step sends the recorded context and generates exactly the recorded number of output
tokens (end-of-generation ignored), so two backends are compared on the same token work. Lines group
into tasks by ``task_id`` and ``repetition`` (one task, ``trace``, when absent), in file order
(infercost's warmup lines are skipped); within a task each step
after the first may reuse the previous step's KV cache (``--prefix-cache``). Where the run busts caches
(the default over HTTP), each replayed attempt's first message starts with its own prefix, replacing the
one a busted original left (``bench.run.cachebust.bust_messages``): attempts that recorded the same
conversation do not answer each other from the server's cache.

Every problem is a one-line ``SuiteError`` naming the file, line and field, before anything runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.backends.base import ChatBackend, ChatRequest
from bench.errors import SuiteError
from bench.results.schema import Record, Status
from bench.run.agent import call_model, choose_protocol
from bench.run.agent_protocol import to_text_protocol
from bench.run.cachebust import bust_messages, bust_prefix, slot_index
from bench.run.records import TaskTally
from bench.run.runner import ProgressEvent, Runner, utc_now
from bench.suite.checks import CheckResult
from bench.suite.loader import PromptSuite, Task

__all__ = ["TraceRunner", "TraceStep", "load_trace", "steps_by_task", "trace_suite"]

_ROLES = {"system", "user", "assistant", "tool"}


@dataclass(frozen=True)
class TraceStep:
    task_id: str
    step: int
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    completion_tokens: int
    prompt_tokens: int | None
    temperature: float
    seed: int


def _fail(path: Path, lineno: int, field: str, problem: str) -> SuiteError:
    return SuiteError(f"{path}: line {lineno}: {field}: {problem}")


def _check_messages(path: Path, lineno: int, messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise _fail(path, lineno, "messages", "not a non-empty list (is this a chat-completion request?)")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise _fail(path, lineno, f"messages[{i}].role", f"not one of {sorted(_ROLES)}")
        content = m.get("content")
        if content is not None and not isinstance(content, str):
            raise _fail(
                path, lineno, f"messages[{i}].content", "not a string (multi-part content is not replayed)"
            )
        for j, call in enumerate(m.get("tool_calls") or []):
            fn = call.get("function") if isinstance(call, dict) else None
            where = f"messages[{i}].tool_calls[{j}].function"
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise _fail(path, lineno, where + ".name", "missing")
            try:
                json.loads(fn.get("arguments") or "{}")
            except (ValueError, TypeError):
                raise _fail(path, lineno, where + ".arguments", "not valid JSON") from None
    return messages


def load_trace(path: Path) -> list[TraceStep]:
    """Validate and read a trace file (see the module docstring)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise SuiteError(f"{path}: cannot read the trace: {exc}") from None
    steps: list[TraceStep] = []
    counters: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            raise _fail(path, lineno, "(line)", "not valid JSON") from None
        if not isinstance(obj, dict):
            raise _fail(path, lineno, "(line)", "not a JSON object")
        req: dict[str, Any] = obj["request"] if isinstance(obj.get("request"), dict) else obj
        messages = _check_messages(path, lineno, req.get("messages"))
        tools = req.get("tools")
        if tools is not None and (
            not isinstance(tools, list)
            or not all(isinstance(t, dict) and isinstance(t.get("function"), dict) for t in tools)
        ):
            raise _fail(path, lineno, "tools", "not a list of {type, function} objects")
        usage = obj.get("usage") or (obj.get("response") or {}).get("usage")
        if not isinstance(usage, dict):
            raise _fail(path, lineno, "usage", "missing: replay needs the recorded completion_tokens")
        out = usage.get("completion_tokens")
        if not isinstance(out, int) or isinstance(out, bool) or out < 0:
            raise _fail(path, lineno, "usage.completion_tokens", "not a whole number, 0 or more")
        prompt = usage.get("prompt_tokens")
        if obj.get("warmup") is True:  # infercost's own warmup attempts are not part of the workload
            continue
        raw_id = str(obj.get("task_id") or "trace")
        if isinstance(obj.get("repetition"), int) and not isinstance(obj.get("repetition"), bool):
            raw_id += f".r{obj['repetition']}"  # each recorded attempt replays as its own task
        task_id = re.sub(r"[^A-Za-z0-9_.:+-]", "-", raw_id)[:128] or "trace"
        step = counters.get(task_id, 0)
        counters[task_id] = step + 1
        temp = req.get("temperature", 0.0)
        seed = req.get("seed", 1234)
        steps.append(
            TraceStep(
                task_id=task_id,
                step=step,
                messages=messages,
                tools=tools or None,
                completion_tokens=out,
                prompt_tokens=prompt if isinstance(prompt, int) else None,
                temperature=float(temp) if isinstance(temp, (int, float)) else 0.0,
                seed=int(seed) if isinstance(seed, int) and 0 <= seed < 2**31 else 1234,
            )
        )
    if not steps:
        raise SuiteError(f"{path}: the trace has no requests")
    return steps


def steps_by_task(steps: list[TraceStep]) -> dict[str, list[TraceStep]]:
    """Each traced task's steps in trace order, tasks in order of first appearance (grouped once: a
    trace of thousands of steps is not rescanned per task)."""
    grouped: dict[str, list[TraceStep]] = {}
    for s in steps:
        grouped.setdefault(s.task_id, []).append(s)
    return grouped


def trace_suite(path: Path, steps: list[TraceStep]) -> PromptSuite:
    """A suite with one task per traced task id; its hash covers the trace's bytes."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    tasks = [
        Task.model_validate(
            {
                "id": tid,
                "category": "trace",
                "messages": [{"role": "user", "content": f"replay of {tid}"}],
                "max_tokens": max(1, max(s.completion_tokens for s in own)),
                "check": {"type": "none"},
                "description": f"{len(own)} steps",
            }
        )
        for tid, own in steps_by_task(steps).items()
    ]
    return PromptSuite(
        name=f"trace-{path.stem}", version=digest[:16], description=f"replay of {path}", tasks=tasks
    )


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
