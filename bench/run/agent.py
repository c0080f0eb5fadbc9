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
from bench.results.schema import Record, StopReason, task_level
from bench.run.agent_protocol import (
    MAX_CALLS_PER_STEP,
    ParsedCall,
    Protocol,
    made_calls,
    reply_calls,
    to_text_protocol,
)
from bench.run.runner import (
    ProgressEvent,
    Runner,
    RunOutcome,
    _peak_rss_mb,
    _sha256,
    generation_fields,
    utc_now,
)
from bench.suite.checks import CheckResult, evaluate
from bench.suite.loader import Task
from bench.suite.tool_calls import MadeCall
from bench.suite.toolbox import open_toolbox
from bench.suite.tools import ToolResult
from bench.suite.tools.bfcl import decoded_step

__all__ = ["TRACE_FILE", "AgentLoop", "AgentRunner", "choose_protocol"]

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


class AgentLoop:
    """Runs agent tasks on one backend; ``append`` receives every record, ``trace`` every trace line."""

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
    ) -> None:
        self.backend = backend
        self.protocol: Protocol = choose_protocol(backend, protocol)
        self.run_id = run_id
        self.anchor_ns = anchor_ns
        self.append = append
        self.trace = trace
        self.prefix_cache = prefix_cache
        self.no_text = no_text
        self.model_name = model_name

    # ------------------------------------------------------------------------------------ records
    def _base(self, task: Task, repetition: int, warmup: bool, step: int | None) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "task_id": task.id,
            "category": task.category,
            "repetition": repetition,
            "warmup": warmup,
            "step": step,
        }

    def _model_record(
        self, task: Task, rep: int, warmup: bool, step: int, started: str, gen: Generation | None,
        status: str, error: str | None, t_fallback: int, turn: int | None = None,
    ) -> Record:  # fmt: skip
        fields: dict[str, Any] = {
            "start_ns": t_fallback - self.anchor_ns,
            "end_ns": time.perf_counter_ns() - self.anchor_ns,
        }
        if gen is not None:
            fields = {
                **generation_fields(gen, self.anchor_ns),
                "output_text": None if self.no_text else gen.text,
                "output_sha256": _sha256(gen.text),
            }
            if gen.prompt_tokens and gen.extra.get("cached_tokens") is not None:
                fields["prefix_hit_ratio"] = round(gen.extra["cached_tokens"] / gen.prompt_tokens, 4)
            calls = self._calls(gen, step)
            if calls:
                fields["calls"] = [{"name": c.name, "arguments": c.arguments_text} for c in calls]
        return Record(
            **self._base(task, rep, warmup, step), kind="model", status=status, error=error,
            started_utc=started, peak_rss_mb=_peak_rss_mb(), turn=turn, **fields,
        )  # fmt: skip

    def _tool_record(
        self,
        task: Task,
        rep: int,
        warmup: bool,
        step: int,
        started: str,
        t0: int,
        result: ToolResult,
        args: str,
    ) -> Record:
        return Record(
            **self._base(task, rep, warmup, step),
            kind="tool",
            status="ok",
            started_utc=started,
            start_ns=t0 - self.anchor_ns,
            end_ns=t0 + result.wall_ns - self.anchor_ns,
            e2e_ms=result.wall_ns / 1e6,
            tool_name=result.name,
            tool_error=result.error,
            check_detail=result.content[:300] if result.error else None,
            tool_cpu_s=round(result.cpu_s, 6),
            tool_peak_rss_mb=result.peak_rss_mb,
            tool_output_bytes=result.output_bytes,
            output_text=None if self.no_text else result.content,
            prompt_sha256=_sha256(args),
        )

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

    def run_task(self, task: Task, repetition: int, warmup: bool) -> Record:
        """Run one attempt at an agent task; every record goes to ``append``; returns the summary."""
        spec = task.agent
        assert spec is not None and task.messages is not None
        t_start = time.perf_counter_ns()
        started = utc_now()
        toolbox = open_toolbox(spec)
        tools = toolbox.declarations
        messages: list[dict[str, Any]] = [m.model_dump() for m in task.messages]
        # multi-turn tasks (BFCL): the user turns still to come, and every reply's calls per turn
        pending = [[m.model_dump() for m in turn] for turn in spec.turns]
        turn_calls: list[list[list[MadeCall]]] = [[]]
        turn_steps = 0
        model_ns = tool_ns = 0
        prompt = cached = completion = reasoning = written = written_1h = 0
        n_model = n_tool = n_tool_err = 0
        cpu_s = 0.0
        peak: float | None = None
        sources: set[str] = set()
        stop: StopReason | None = None
        status, error, final = "ok", None, ""
        step = 0
        while stop is None:
            used = prompt + completion
            if step >= spec.max_steps:
                stop = "max_steps"
                break
            if used >= spec.max_tokens_total:
                stop = "token_budget"
                break
            req = self._request(task, messages, tools, step, spec.max_tokens_total - used)
            call_started, t_call = utc_now(), time.perf_counter_ns()
            gen: Generation | None = None
            try:
                gen = self.backend.chat(req)
            except RequestFailed as exc:
                gen, status, error = exc.partial, exc.status, str(exc)
            except BenchError:
                raise
            except Exception as exc:  # one task's failure must not take the run down
                status, error = "error", f"{type(exc).__name__}: {exc}"
            rec = self._model_record(
                task, repetition, warmup, step, call_started, gen, status, error, t_call,
                len(turn_calls) - 1 if spec.turns else None,
            )  # fmt: skip
            self.append(rec)
            n_model += 1
            if gen is not None:
                model_ns += gen.t_end_ns - gen.t_dispatch_ns
                prompt += gen.prompt_tokens or 0
                completion += gen.completion_tokens or 0
                reasoning += gen.reasoning_tokens or 0
                cached += gen.extra.get("cached_tokens") or 0
                written += gen.extra.get("cache_write_tokens") or 0
                written_1h += gen.extra.get("cache_write_1h_tokens") or 0
                if gen.token_count_source:
                    sources.add(gen.token_count_source)
                if self.trace is not None:
                    self.trace(self._trace_line(task, repetition, warmup, step, messages, tools, req, gen))
            else:
                model_ns += time.perf_counter_ns() - t_call
            if status != "ok" or gen is None:
                stop = "error"
                break
            calls = self._calls(gen, step)
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
                    self._tool_record(
                        task, repetition, warmup, step, tool_started, t_tool, result, call.arguments_text
                    )
                )
                n_tool += 1
                n_tool_err += int(result.error)
                tool_ns += result.wall_ns
                cpu_s += result.cpu_s
                if result.peak_rss_mb is not None:
                    peak = max(peak or 0.0, result.peak_rss_mb)
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
        wall_ns = t_end - t_start
        if stop == "answer" or (spec.bfcl is not None and stop == "max_steps"):
            # BFCL judges a force-quit task too: it fails unless the quit came in its last turn
            verdict = evaluate(task.check, final, calls=turn_calls)
        else:
            verdict = CheckResult(False, f"no answer: the task stopped at {stop}")
        summary = Record(
            **self._base(task, repetition, warmup, None),
            kind="agent",
            status=status,
            error=error,
            started_utc=started,
            start_ns=t_start - self.anchor_ns,
            end_ns=t_end - self.anchor_ns,
            e2e_ms=wall_ns / 1e6,
            prompt_tokens=prompt,
            completion_tokens=completion,
            reasoning_tokens=reasoning or None,
            cached_tokens=cached,
            cache_write_tokens=written or None,
            cache_write_1h_tokens=written_1h or None,
            input_fresh_tokens=prompt - cached,
            prefix_hit_ratio=round(cached / prompt, 4) if prompt else None,
            token_count_source=next(iter(sources)) if len(sources) == 1 else None,
            passed=verdict.passed,
            check_detail=verdict.detail,
            output_text=None if self.no_text else final,
            output_sha256=_sha256(final),
            prompt_sha256=_sha256(json.dumps([m.model_dump() for m in task.messages])),
            peak_rss_mb=_peak_rss_mb(),
            steps=n_model,
            model_calls=n_model,
            tool_calls=n_tool,
            tool_errors=n_tool_err,
            stop_reason=stop,
            wall_s=wall_ns / 1e9,
            model_s=model_ns / 1e9,
            tool_s=tool_ns / 1e9,
            harness_s=max(wall_ns - model_ns - tool_ns, 0) / 1e9,
            tool_cpu_s=round(cpu_s, 6),
            tool_peak_rss_mb=peak,
        )
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
            "usage": {
                "prompt_tokens": gen.prompt_tokens,
                "completion_tokens": gen.completion_tokens,
                "prompt_tokens_details": {"cached_tokens": gen.extra.get("cached_tokens")},
            },
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
        rec = self.loop.run_task(task, repetition, warmup)
        self._finished(base, rec)
        return rec

    def run(self) -> RunOutcome:
        try:
            return super().run()
        finally:
            if self._trace_file is not None:
                self._trace_file.close()
