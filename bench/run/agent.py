"""The agent loop: model call → tool calls (run for real) → results appended → next call, until the
model answers, ``max_steps`` or the token budget ends the task.

Records (docs/agents.md): one per model call (``kind = "model"``) and per tool call (``kind = "tool"``),
linked by ``task_id``, ``repetition`` and ``step``, then the task's summary (``kind = "agent"``) with
the time split — model = Σ (dispatch → stream end) per call, tool = Σ tool wall time, harness = the
rest of the task's wall time (never negative) — tool CPU-seconds and peak memory (the children's own
rusage), tokens by tier (fresh input, cached input, output), steps, the stop reason and the check's
verdict on the final answer. Every model call is also written to ``trace.jsonl`` as an OpenAI
chat-completion request with its recorded usage (``bench.run.trace`` replays it).

Prefix reuse: within one task, each call after the first asks the backend to keep the KV cache of the
previous call and prefill only the new suffix (``reuse_prefix``); the first call of every task starts
cold. ``prefix_cache=False`` (``--prefix-cache off``) re-prefills every step.

A misbehaving model never stops the run: endless tool calls end at ``max_steps``, huge or invalid
arguments and unknown tools become tool errors the model sees (counted), a failed request ends the task
with ``stop_reason = "error"``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from bench.backends.base import ChatBackend, ChatRequest, Generation, RequestFailed
from bench.errors import BenchError
from bench.redaction import scrub_secrets
from bench.results.schema import Record, Status, StopReason, task_level
from bench.run.agent_protocol import (
    MAX_CALLS_PER_STEP,
    ParsedCall,
    Protocol,
    made_calls,
    reply_calls,
    to_text_protocol,
)
from bench.run.records import RecordFactory, TaskTally
from bench.run.runner import ProgressEvent, Runner, RunOutcome, utc_now
from bench.suite.checks import CheckResult, evaluate
from bench.suite.loader import Task
from bench.suite.tool_calls import MadeCall
from bench.suite.toolbox import Toolbox, open_toolbox
from bench.suite.tools import ToolResult
from bench.suite.tools.bfcl import decoded_step

__all__ = ["TRACE_FILE", "AgentLoop", "AgentRunner", "call_model", "choose_protocol", "trace_usage"]

TRACE_FILE = "trace.jsonl"


def choose_protocol(backend: ChatBackend, requested: str = "auto") -> Protocol:
    """``auto``: native where the backend takes tools natively (HTTP; a chat template that renders
    tools), else the text protocol. ``text`` forces the text protocol (e.g. a server whose model's
    template ignores ``tools``); ``native`` forces native tools."""
    if requested == "text":
        return "text_json"
    if requested == "native":
        return "native_tools"
    return "native_tools" if backend.native_tools() else "text_json"


def _assistant_message(text: str, calls: Sequence[ParsedCall]) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        msg["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_text}}
            for c in calls
        ]
    return msg


def trace_usage(gen: Generation) -> dict[str, Any]:
    """A call's usage as OpenAI reports it (hidden reasoning inside ``completion_tokens``, cache reads
    under ``prompt_tokens_details``) plus Anthropic's cache-write count where there was one: what a
    replay generates and what a reader prices a trace line by."""
    visible, reasoning = gen.completion_tokens, gen.reasoning_tokens
    usage: dict[str, Any] = {
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": None if visible is None else visible + (reasoning or 0),
        "prompt_tokens_details": {"cached_tokens": gen.extra.get("cached_tokens")},
    }
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    if gen.extra.get("cache_write_tokens"):
        usage["cache_creation_input_tokens"] = gen.extra["cache_write_tokens"]
    return usage


def call_model(backend: ChatBackend, request: ChatRequest) -> tuple[Generation | None, Status, str | None]:
    """One model call: what it produced (even on failure, where the backend kept a partial reply), its
    status and error. A ``BenchError`` (the backend cannot work at all) stops the run."""
    try:
        return backend.chat(request), "ok", None
    except RequestFailed as exc:
        return exc.partial, exc.status, str(exc)
    except BenchError:
        raise
    except Exception as exc:  # one task's failure must not take the run down
        return None, "error", f"{type(exc).__name__}: {exc}"


class AgentLoop:
    """Runs agent tasks on one backend; ``append`` receives every record, ``trace`` every trace line.
    ``toolboxes`` opens each attempt's tools (``bench.suite.toolbox``: ours, or a benchmark's own)."""

    def __init__(
        self,
        backend: ChatBackend,
        *,
        run_id: str,
        anchor_ns: int,
        append: Callable[[Record], None],
        trace: Callable[[dict[str, Any]], None] | None = None,
        prefix_cache: bool = True,
        no_text: bool = False,
        model_name: str = "",
        protocol: str = "auto",
        toolboxes: Callable[..., Toolbox] = open_toolbox,
    ) -> None:
        self.backend = backend
        self.protocol: Protocol = choose_protocol(backend, protocol)
        self.records = RecordFactory(run_id, anchor_ns, no_text)
        self.append = append
        self.trace = trace
        self.prefix_cache = prefix_cache
        self.model_name = model_name
        self.toolboxes = toolboxes

    # ---------------------------------------------------------------------------------------- loop
    def _calls(self, gen: Generation, step: int) -> list[ParsedCall]:
        return reply_calls(gen.extra.get("tool_calls"), gen.text, step)

    def _request(
        self, task: Task, messages: list[dict[str, Any]], tools: list[dict[str, Any]], step: int, budget: int
    ) -> ChatRequest:
        assert task.agent is not None
        native = self.protocol == "native_tools"
        return ChatRequest(
            messages=messages if native else to_text_protocol(messages, tools),
            tools=tools if native else None,
            max_tokens=max(1, min(task.agent.max_tokens_per_call, budget)),
            temperature=task.temperature,
            seed=task.seed,
            reuse_prefix=self.prefix_cache and step > 0,
        )

    def run_task(self, task: Task, repetition: int, warmup: bool, *, sent: Task | None = None) -> Record:
        """Run one attempt at an agent task; every record goes to ``append``; returns the summary.
        ``sent``: the task as this attempt sends it (cache-busted); records are filed under ``task``."""
        spec = task.agent
        first = (sent or task).messages
        assert spec is not None and first is not None
        t_start, started = time.perf_counter_ns(), utc_now()
        toolbox = self.toolboxes(spec)
        tools = toolbox.declarations
        messages: list[dict[str, Any]] = [m.model_dump() for m in first]
        # multi-turn tasks (BFCL): the user turns still to come, and every reply's calls per turn
        pending = [[m.model_dump() for m in turn] for turn in spec.turns]
        turn_calls: list[list[list[MadeCall]]] = [[]]
        turn_steps = 0
        tally = TaskTally()
        stop: StopReason | None = None
        status: Status = "ok"
        error: str | None = None
        final = ""
        step = 0
        while stop is None:
            if step >= spec.max_steps:
                stop = "max_steps"
                break
            if tally.used_tokens >= spec.max_tokens_total:
                stop = "token_budget"
                break
            req = self._request(task, messages, tools, step, spec.max_tokens_total - tally.used_tokens)
            call_started, t_call = utc_now(), time.perf_counter_ns()
            gen, status, error = call_model(self.backend, req)
            calls = self._calls(gen, step) if gen is not None else []
            self.append(
                self.records.model_call(
                    task, repetition, warmup, step, started_utc=call_started, t_fallback_ns=t_call, gen=gen,
                    status=status, error=error, calls=calls, turn=len(turn_calls) - 1 if spec.turns else None,
                )
            )  # fmt: skip
            tally.add_model(gen, t_call)
            if gen is not None and self.trace is not None:
                self.trace(self._trace_line(task, repetition, warmup, step, messages, tools, req, gen))
            if status != "ok" or gen is None:
                stop = "error"
                break
            turn_calls[-1].append(made_calls(calls))
            if spec.bfcl is not None and decoded_step(turn_calls[-1][-1]) is None:
                calls = []  # BFCL: a reply whose calls do not decode ends the turn, as one without calls
            if not calls:
                if pending:  # the model is done with this turn: the next user turn begins
                    messages.append({"role": "assistant", "content": gen.text})
                    messages.extend(pending.pop(0))
                    turn_calls.append([])
                    turn_steps = 0
                    step += 1
                    continue
                final, stop = gen.text, "answer"
                break
            messages.append(_assistant_message(gen.text, calls))
            for i, call in enumerate(calls):
                t_tool, tool_started = time.perf_counter_ns(), utc_now()
                if i >= MAX_CALLS_PER_STEP:
                    result = ToolResult(
                        call.name, f"refused: more than {MAX_CALLS_PER_STEP} tool calls in one reply", True, 0
                    )
                elif call.problem is not None:
                    result = ToolResult(call.name, call.problem, True, time.perf_counter_ns() - t_tool)
                else:
                    result = toolbox.run(call.name, call.arguments)
                self.append(
                    self.records.tool_call(
                        task, repetition, warmup, step, started_utc=tool_started, t_start_ns=t_tool,
                        result=result, arguments_text=call.arguments_text,
                    )
                )  # fmt: skip
                tally.add_tool(result)
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": result.content}
                )
            step += 1
            turn_steps += 1
            if spec.max_steps_per_turn is not None and turn_steps > spec.max_steps_per_turn:
                stop = "max_steps"  # BFCL force-quits a turn that needs more calls than that
                break
        toolbox.close()
        t_end = time.perf_counter_ns()
        if stop == "answer" or (spec.bfcl is not None and stop == "max_steps"):
            # BFCL judges a force-quit task too: it fails unless the quit came in its last turn
            verdict = evaluate(task.check, final, calls=turn_calls)
        else:
            verdict = CheckResult(False, f"no answer: the task stopped at {stop}")
        summary = self.records.agent_summary(
            task, repetition, warmup, started_utc=started, t_start_ns=t_start, t_end_ns=t_end, tally=tally,
            status=status, error=error, stop=stop, verdict=verdict, final_text=final,
        )  # fmt: skip
        self.append(summary)
        return summary

    def _trace_line(
        self, task: Task, rep: int, warmup: bool, step: int, messages: list[dict[str, Any]],
        tools: list[dict[str, Any]], req: ChatRequest, gen: Generation,
    ) -> dict[str, Any]:  # fmt: skip
        calls = self._calls(gen, step)
        return {
            "task_id": task.id,
            "repetition": rep,
            "warmup": warmup,
            "step": step,
            "protocol": self.protocol,
            "request": {
                "model": self.model_name,
                "messages": list(messages),
                "tools": tools,
                "max_tokens": req.max_tokens,
                "temperature": req.temperature,
                "seed": req.seed,
            },
            "response": {
                "content": gen.text,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments_text},
                    }
                    for c in calls
                ],
                "finish_reason": gen.finish_reason,
            },
            "usage": trace_usage(gen),
        }


class AgentRunner(Runner):
    """The run loop with agent tasks: a task with ``agent`` runs the loop (its call records and summary
    go to the bundle, the summary is the task's slot); every other task runs as a single request."""

    def __init__(
        self,
        *args: Any,
        prefix_cache: bool = True,
        model_name: str = "",
        protocol: str = "auto",
        **kwargs: Any,
    ) -> None:
        if "prior" in kwargs:  # a resumed run's slots are its task-level records
            kwargs["prior"] = task_level(kwargs["prior"])
        super().__init__(*args, **kwargs)
        self._trace_file: IO[str] | None = None
        self.loop = AgentLoop(
            self.backend,  # type: ignore[arg-type]
            run_id=self.run_id,
            anchor_ns=self.anchor_ns,
            append=self.writer.append,
            trace=self._write_trace,
            prefix_cache=prefix_cache,
            no_text=self.settings.no_text,
            model_name=model_name,
            protocol=protocol,
        )

    def _write_trace(self, line: dict[str, Any]) -> None:
        if self.settings.no_text:  # --no-text keeps prompts and outputs out of the bundle: no trace
            return
        if self._trace_file is None:
            self._trace_file = open(Path(self.writer.run_dir) / TRACE_FILE, "a", encoding="utf-8")  # noqa: SIM115
        self._trace_file.write(scrub_secrets(json.dumps(line, ensure_ascii=False)) + "\n")  # as records
        self._trace_file.flush()

    def _one(self, index: int, task: Task, repetition: int, warmup: bool) -> Record:
        if task.agent is None:
            return super()._one(index, task, repetition, warmup)
        base = ProgressEvent(
            kind="request_start", task_index=index, n_tasks=len(self.suite.tasks), task_id=task.id,
            repetition=repetition, warmup=warmup, done_requests=self._done,
            total_requests=max(self._total, self._done + 1),
        )  # fmt: skip
        self._emit(base)
        rec = self.loop.run_task(task, repetition, warmup, sent=self.settings.sent(task, repetition, warmup))
        self._finished(base, rec)
        return rec

    def run(self) -> RunOutcome:
        try:
            return super().run()
        finally:
            if self._trace_file is not None:
                self._trace_file.close()
