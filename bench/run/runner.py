"""The run loop: warmup → repetitions → one ``Record`` per request, appended to the bundle as it ends.

Tasks run in suite order, each task's repetitions back to back (so a task's energy window is
contiguous), with an optional ``--cooldown`` pause between tasks. Which requests a task runs comes from
``bench.run.schedule`` (fixed repetitions or ``--min-time``; on ``--resume`` only the slots still missing).
The runner never prints: progress leaves through ``on_progress`` and the CLI draws it.
A failing request becomes an ``error`` record and the run goes on; Ctrl-C writes the in-flight request
as ``cancelled``, marks the manifest incomplete and raises ``RunInterrupted`` (the CLI exits 130).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from bench import __version__
from bench.backends.base import Backend, ChatBackend, ChatRequest, Generation, ProgressFn, RequestFailed
from bench.buildinfo import tool_commit
from bench.devices.profiles import DeviceProfile, host_facts
from bench.errors import BenchError
from bench.models.catalog import ResolvedModel
from bench.results.bundle import BundleWriter, effective_records
from bench.results.schema import Manifest, Record, Status
from bench.run.agent_protocol import Protocol, made_calls, reply_calls, to_text_protocol
from bench.run.cachebust import bust_task, slot_index
from bench.run.records import RecordFactory
from bench.run.schedule import SchedulePolicy, TaskSchedule
from bench.sandbox import probe_isolation
from bench.suite.checks import CheckResult, NoneCheck, PythonTestCheck, evaluate
from bench.suite.loader import PromptSuite, Task

__all__ = ["ProgressEvent", "RunInterrupted", "RunOutcome", "RunSettings", "Runner", "new_run_id", "utc_now"]


class RunInterrupted(Exception):
    """Ctrl-C during a run; the bundle at ``run_dir`` keeps every finished record."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(f"interrupted; finished records are kept in {run_dir}")
        self.run_dir = run_dir


@dataclass(frozen=True)
class RunSettings:
    repetitions: int = 3
    warmup: int = 1
    no_text: bool = False
    min_time_s: float | None = None  # keep repeating a task until its measured requests add up to this
    cooldown_s: float = 0.0  # pause between tasks (thermal recovery)
    # infercost sweep rounds: only repetitions below this run; the bundle stays incomplete (resumable)
    # while any task owes more. Not recorded: the manifest says how many repetitions the run will have.
    repetition_limit: int | None = None
    # every request (every agent attempt) gets its own prefix, so no cache serves a repeated prompt
    # (bench.run.cachebust); seed: the run seed its nonces are drawn from
    cache_bust: bool = False
    seed: int = 0

    def sent(self, task: Task, repetition: int, warmup: bool) -> Task:
        """``task`` as the request in this slot sends it: cache-busted when the run busts."""
        if not self.cache_bust:
            return task
        return bust_task(task, self.seed, slot_index(self.warmup, repetition, warmup))


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """What the CLI needs to draw progress. ``kind`` says which moment this is."""

    kind: Literal["request_start", "tokens", "request_end", "cooldown"]
    task_index: int
    n_tasks: int
    task_id: str
    repetition: int
    warmup: bool
    done_requests: int
    total_requests: int
    tokens: int = 0
    elapsed_ns: int = 0
    record: Record | None = None


@dataclass
class RunOutcome:
    run_dir: Path
    manifest: Manifest
    records: list[Record] = field(default_factory=list)

    @property
    def n_errors(self) -> int:
        return sum(1 for r in self.records if r.status != "ok")


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id(model_label: str, suite_name: str) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in f"{model_label}-{suite_name}")
    return f"{stamp}-{safe}-{secrets.token_hex(2)}"


def build_manifest(
    *,
    run_id: str,
    anchor_ns: int,
    suite: PromptSuite,
    suite_path: str,
    device: DeviceProfile,
    model: ResolvedModel | None,
    backend_facts: dict[str, Any],
    settings: RunSettings,
    command: list[str],
) -> Manifest:
    return Manifest(
        tool_version=__version__,
        tool_commit=tool_commit(),
        run_id=run_id,
        started_utc=utc_now(),
        anchor_perf_ns=anchor_ns,
        command=command,
        host=host_facts(),
        device={**device.public_dict(), "origin": device.origin},
        model=model.manifest() if model else None,
        backend=backend_facts,
        suite={
            "name": suite.name,
            "version": suite.version,
            "hash": suite.suite_hash,
            "path": suite_path,
            "n_tasks": len(suite.tasks),
            "is_shapes": suite.is_shapes,
            "source": suite.source.model_dump() if suite.source else None,
            "subset": suite.subset.model_dump() if suite.subset else None,
        },
        settings={
            "repetitions": settings.repetitions,
            "warmup": settings.warmup,
            "no_text": settings.no_text,
            "min_time_s": settings.min_time_s,
            "cooldown_s": settings.cooldown_s,
        },
        sandbox=(
            probe_isolation().as_dict()
            if any(isinstance(t.check, PythonTestCheck) for t in suite.tasks)
            else None
        ),
    )


class Runner:
    """Runs a suite on a loaded backend and appends each record to the writer as it finishes."""

    def __init__(
        self,
        suite: PromptSuite,
        backend: Backend,
        writer: BundleWriter,
        settings: RunSettings,
        on_progress: Callable[[ProgressEvent], None] | None = None,
        *,
        prior: Sequence[Record] = (),
        before_finish: Callable[[Manifest], None] | None = None,
        tool_protocol: Protocol = "native_tools",
    ) -> None:
        """``prior``: the records already in the bundle (``--resume``); only missing slots run.
        ``before_finish``: called with the manifest just before its final write (end-of-run hygiene).
        ``tool_protocol``: how a task's ``tools`` reach the model (natively, or in the text protocol)."""
        self.suite = suite
        self.tool_protocol: Protocol = tool_protocol
        self.backend = backend
        self.writer = writer
        self.settings = settings
        self.on_progress = on_progress
        self.prior = list(prior)
        self.before_finish = before_finish
        self.anchor_ns = writer.manifest.anchor_perf_ns
        self.run_id = writer.manifest.run_id
        self.records = RecordFactory(self.run_id, self.anchor_ns, settings.no_text)
        self.session_warmup: dict[str, Any] | None = None
        policy = SchedulePolicy(
            settings.repetitions, settings.warmup, settings.min_time_s, limit=settings.repetition_limit
        )
        self._schedules = [
            TaskSchedule(policy, (r for r in self.prior if r.task_id == t.id)) for t in suite.tasks
        ]
        self._done = 0
        self._total = sum(s.planned_remaining for s in self._schedules)

    def run(self) -> RunOutcome:
        outcome = RunOutcome(run_dir=self.writer.run_dir, manifest=self.writer.manifest)
        ran_a_task = False
        try:
            for index, (task, schedule) in enumerate(zip(self.suite.tasks, self._schedules, strict=True)):
                started_task = False
                for slot in schedule:
                    if not started_task:
                        started_task = True
                        if ran_a_task and self.settings.cooldown_s > 0:
                            self._cooldown(index, task)
                        if not ran_a_task and self.prior and not slot.warmup:
                            self._warm_up_session(task)
                        ran_a_task = True
                    rec = self._one(index, task, slot.repetition, slot.warmup)
                    schedule.add(rec)
                    outcome.records.append(rec)
        except KeyboardInterrupt:
            self._finish(outcome, interrupted=True)
            raise RunInterrupted(self.writer.run_dir) from None
        except BaseException:
            self._finish(outcome, interrupted=False, complete=False)
            raise
        owing = any(s.owes_beyond_limit for s in self._schedules)
        self._finish(outcome, interrupted=False, complete=not owing)
        return outcome

    def record_generation(
        self,
        task: Task,
        repetition: int,
        warmup: bool,
        started_utc: str,
        t_fallback_ns: int,
        outcome: Generation | RequestFailed,
        *,
        append: bool = True,
    ) -> Record:
        """A request timed by someone else (the pytest plugin times ``backend.generate`` with
        pytest-benchmark's timer), judged and recorded exactly as ``run`` does it."""
        failed = isinstance(outcome, RequestFailed)
        gen = outcome.partial if isinstance(outcome, RequestFailed) else outcome
        status = outcome.status if isinstance(outcome, RequestFailed) else "ok"
        error = str(outcome) if failed else None
        rec = self._record(task, repetition, warmup, started_utc, t_fallback_ns, gen, status, error)
        if append:
            self.writer.append(rec)
        return rec

    def finish(self, records: list[Record]) -> RunOutcome:
        """Close the bundle of a run driven through ``record_generation``."""
        outcome = RunOutcome(run_dir=self.writer.run_dir, manifest=self.writer.manifest, records=records)
        self._finish(outcome, interrupted=False)
        return outcome

    def _cooldown(self, index: int, task: Task) -> None:
        """Let the device cool between tasks; Ctrl-C during the pause stops the run like anywhere else."""
        self._emit(
            ProgressEvent(
                kind="cooldown",
                task_index=index,
                n_tasks=len(self.suite.tasks),
                task_id=task.id,
                repetition=0,
                warmup=False,
                done_requests=self._done,
                total_requests=self._total,
                elapsed_ns=int(self.settings.cooldown_s * 1e9),
            )
        )
        time.sleep(self.settings.cooldown_s)

    def _warm_up_session(self, task: Task) -> None:
        """A resumed run starts in a fresh process with cold caches: before its first *measured* request,
        run the task's warmups again, unrecorded (the bundle already holds this slot's warmup records);
        the manifest's resume entry says so."""
        if self.settings.warmup <= 0:
            return
        for k in range(self.settings.warmup):
            # cache-busted with nonces no recorded slot uses (slots count from 0)
            sent = bust_task(task, self.settings.seed, -1 - k) if self.settings.cache_bust else task
            try:
                self.backend.generate(sent)
            except BenchError:
                raise
            except Exception:  # a failed warmup is not a result; the measured request will show it
                continue
        self.session_warmup = {"task_id": task.id, "requests": self.settings.warmup}

    def _finish(self, outcome: RunOutcome, *, interrupted: bool, complete: bool | None = None) -> None:
        m = self.writer.manifest
        m.finished_utc = utc_now()
        m.interrupted = interrupted
        m.complete = (not interrupted) if complete is None else complete
        every = effective_records([*self.prior, *outcome.records])
        m.counts = {
            "records": len(every),
            "measured": sum(1 for r in every if not r.warmup),
            "errors": sum(1 for r in every if r.status != "ok"),
        }
        if self.before_finish is not None:
            # end-of-run extras (hygiene) must never cost the manifest its final write
            with contextlib.suppress(Exception, KeyboardInterrupt):
                self.before_finish(m)
        try:
            self.writer.write_manifest()
        except OSError:
            if m.complete:  # a run that finished must say so; one already failing keeps its first error
                raise
        finally:
            self.writer.close()

    def _emit(self, event: ProgressEvent) -> None:
        if self.on_progress is not None:
            self.on_progress(event)

    def _finished(self, start: ProgressEvent, rec: Record) -> None:
        """Count a finished slot (single request, agent task or replayed trace) and say so."""
        self._done += 1
        self._emit(
            replace(
                start,
                kind="request_end",
                done_requests=self._done,
                record=rec,
                tokens=rec.completion_tokens or 0,
            )
        )

    def _keep(self, outcome: RunOutcome, index: int, rec: Record) -> Record:
        """A request of a load run (HTTP closed or open loop, in-process batched) has finished: write it,
        keep it in the outcome, count it and say so. One place for every runner that has no start event
        of its own to extend."""
        self.writer.append(rec)
        outcome.records.append(rec)
        start = ProgressEvent(
            kind="request_start",
            task_index=index,
            n_tasks=len(self.suite.tasks),
            task_id=rec.task_id,
            repetition=rec.repetition,
            warmup=rec.warmup,
            done_requests=self._done,
            total_requests=self._total,
        )
        self._finished(start, rec)
        return rec

    def _one(self, index: int, task: Task, repetition: int, warmup: bool) -> Record:
        base = ProgressEvent(
            kind="request_start",
            task_index=index,
            n_tasks=len(self.suite.tasks),
            task_id=task.id,
            repetition=repetition,
            warmup=warmup,
            done_requests=self._done,
            total_requests=self._total,
        )
        self._total = max(self._total, self._done + 1)  # --min-time adds requests beyond the plan
        base = replace(base, total_requests=self._total)
        self._emit(base)

        def progress(tokens: int, elapsed_ns: int) -> None:
            self._emit(replace(base, kind="tokens", tokens=tokens, elapsed_ns=elapsed_ns))

        started = utc_now()
        t_fallback = time.perf_counter_ns()
        gen: Generation | None = None
        status: Status = "ok"
        error: str | None = None
        try:
            gen = self._send(self.settings.sent(task, repetition, warmup), progress)
        except RequestFailed as exc:
            status, error, gen = exc.status, str(exc), exc.partial
        except KeyboardInterrupt:
            rec = self._record(
                task, repetition, warmup, started, t_fallback, None, "cancelled", "interrupted"
            )
            self.writer.append(rec)
            raise
        except BenchError as exc:  # the run stops (e.g. the endpoint refused the key): record why first
            self.writer.append(
                self._record(task, repetition, warmup, started, t_fallback, None, "error", str(exc))
            )
            raise
        except Exception as exc:  # a request must never take the run down; the error is recorded
            status, error = "error", f"{type(exc).__name__}: {exc}"
        rec = self._record(task, repetition, warmup, started, t_fallback, gen, status, error)
        self.writer.append(rec)
        self._finished(base, rec)
        return rec

    def _send(self, task: Task, progress: ProgressFn) -> Generation:
        """One request: a task that offers ``tools`` is a chat call with them (BFCL), natively or in the
        text protocol (``bench.run.agent_protocol``); every other task is the backend's ``generate``."""
        if task.tools is None:
            return self.backend.generate(task, progress=progress)
        assert task.messages is not None
        messages = [m.model_dump() for m in task.messages]
        native = self.tool_protocol == "native_tools"
        request = ChatRequest(
            messages=messages if native else to_text_protocol(messages, task.tools),
            tools=task.tools if native else None,
            max_tokens=task.max_tokens,
            temperature=task.temperature,
            seed=task.seed,
        )
        chat: ChatBackend = self.backend  # type: ignore[assignment]  # prepare_run: tools need a chat backend
        return chat.chat(request, progress=progress)

    def _record(
        self,
        task: Task,
        repetition: int,
        warmup: bool,
        started: str,
        t_fallback: int,
        gen: Generation | None,
        status: Status,
        error: str | None,
    ) -> Record:
        """Judge a finished request and build its record (every request runner comes through here)."""
        calls = None
        if task.tools is not None and gen is not None:  # what the tool_call check judges, kept as written
            calls = reply_calls(gen.extra.get("tool_calls"), gen.text, 0)
        if status == "ok":
            text = gen.text if gen is not None else ""
            verdict = evaluate(task.check, text, calls=[[made_calls(calls or [])]])
        elif isinstance(task.check, NoneCheck):
            verdict = CheckResult(None, "no check (synthetic shape)")
        else:  # a request that failed did not do its task: it counts against the pass rate
            verdict = CheckResult(False, f"request {status}: no answer to check")
        return self.records.request(
            task, repetition, warmup, started_utc=started, t_fallback_ns=t_fallback, gen=gen, status=status,
            error=error, verdict=verdict, calls=calls,
        )  # fmt: skip
