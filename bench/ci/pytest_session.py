"""What the pytest plugin drives: one loaded backend for the whole test session, a bundle, and task runs.

Kept apart from ``bench.ci.pytest_plugin`` so that the plugin module, which pytest imports in *every* session
once infercost is installed, imports nothing heavy; this module (llama.cpp, pandas, scipy) is imported only
when an ``--infercost-*`` option is given.

Each suite task becomes a test that times ``backend.generate`` with pytest-benchmark's own timer
(``benchmark.pedantic``: warmup rounds, then one round per repetition), so pytest-benchmark's storage,
``--benchmark-compare`` and ``--benchmark-compare-fail`` gate end-to-end latency as users know them. The
same generations are judged and appended to a normal result bundle (``Runner.record_generation``), so
``infercost gate`` can gate the session's cost, energy and pass rate afterwards.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.backends.base import Backend, Generation, RequestFailed
from bench.cost.enrich import enrich
from bench.errors import UsageError
from bench.results.bundle import Bundle, BundleWriter
from bench.results.metrics.aggregate import group_metrics
from bench.results.metrics.policy import MEASURED
from bench.results.schema import Record
from bench.run.orchestrate import (
    PreparedRun,
    RunOptions,
    base_manifest,
    make_backend,
    prepare_run,
    run_id_stem,
    run_settings,
)
from bench.run.runner import Runner, new_run_id, utc_now
from bench.run.shape_checks import sequences_needed
from bench.suite.loader import Task

__all__ = ["EXTRA_INFO_FIELDS", "InfercostSession", "TaskRun", "prepare"]

# Summary metrics (field registry names) stored in each benchmark's ``extra_info``.
EXTRA_INFO_FIELDS = (
    "pass_rate",
    "prompt_tokens_mean",
    "completion_tokens_mean",
    "completion_tokens_total",
    "ttft_p50_ms",
    "decode_tps_mean",
    "energy_per_task_j",
    "cost_per_task_usd",
    "cost_per_success_usd",
)


def prepare(options: RunOptions) -> PreparedRun:
    """Validate the options before any test runs (a bad suite or model fails the session at once)."""
    return prepare_run(options)


@dataclass
class TaskRun:
    """One task's measured requests: records, and the benchmark figures worth keeping beside them."""

    task: Task
    records: list[Record]
    metrics: dict[str, Any]

    @property
    def measured(self) -> list[Record]:
        return MEASURED.select(self.records)

    def failure(self) -> str | None:
        """Why the test fails (None: it passes): an errored request, or a check that did not pass."""
        for r in self.measured:
            if r.status != "ok":
                return f"{self.task.id}: repetition {r.repetition + 1}: request {r.status}: {r.error}"
        failed = [r for r in self.measured if r.passed is False]
        if not failed:
            return None
        r = failed[0]
        answer = "" if r.output_text is None else f"; answer: {r.output_text!r}"
        return (
            f"{self.task.id}: {len(failed)} of {len(self.measured)} repetitions failed the "
            f"{self.task.check.type} check: {r.check_detail}{answer}"
        )


@dataclass
class InfercostSession:
    """The model, loaded once, and the bundle every task test appends to."""

    prepared: PreparedRun
    keep_bundle: bool = True  # False: a scratch runs root (fixture-only sessions), removed at close
    backend: Backend | None = None
    runner: Runner | None = None
    records: list[Record] = field(default_factory=list)

    @property
    def run_dir(self) -> Path | None:
        return self.runner.writer.run_dir if self.runner else None

    def start(self) -> Runner:
        """Load the backend and open the bundle (first use only)."""
        if self.runner is not None:
            return self.runner
        p, opts = self.prepared, self.prepared.options
        n_seq = sequences_needed(p.suite)
        backend = make_backend(p.device, p.model, opts.threads, n_seq=n_seq, kv_unified=n_seq > 1)
        facts = backend.load()
        self.backend = backend
        # the run's own settings (cache busting over HTTP included), so a plugin session measures what
        # `infercost run` measures
        settings = run_settings(opts, seed=p.seed)
        manifest = base_manifest(p, new_run_id(run_id_stem(p), p.suite.name), facts, settings)
        writer = BundleWriter(opts.out / manifest.run_id, manifest)
        self.runner = Runner(p.suite, backend, writer, settings)
        return self.runner

    def run_task(self, task: Task, pedantic: Callable[..., Any]) -> TaskRun:
        """Warmups + repetitions of one task, each ``generate`` call timed by ``pedantic``.

        ``pedantic`` is ``benchmark.pedantic``; with ``--benchmark-disable`` it runs the target once,
        which is then the one measured repetition.
        """
        runner = self.start()
        backend = self.backend
        assert backend is not None
        opts = self.prepared.options
        outcomes: list[Generation | RequestFailed] = []
        stamps: list[tuple[str, int]] = []

        def setup() -> None:  # outside the timed region
            stamps.append((utc_now(), time.perf_counter_ns()))

        def target() -> None:
            # the request in this slot as a run sends it (its own cache-busting prefix over HTTP):
            # warmup rounds come first, then the measured ones
            i = len(outcomes)
            warmup = i < opts.warmup
            sent = runner.settings.sent(task, i if warmup else i - opts.warmup, warmup)
            try:
                outcomes.append(backend.generate(sent))
            except RequestFailed as exc:
                outcomes.append(exc)

        pedantic(target, setup=setup, rounds=opts.repetitions, warmup_rounds=opts.warmup, iterations=1)
        n_warm = max(0, len(outcomes) - opts.repetitions)
        records = []
        for i, (outcome, (started, t0)) in enumerate(zip(outcomes, stamps, strict=True)):
            warmup = i < n_warm
            rep = i if warmup else i - n_warm
            records.append(runner.record_generation(task, rep, warmup, started, t0, outcome))
        self.records += records
        return TaskRun(task, records, self._metrics(records))

    def _metrics(self, records: list[Record]) -> dict[str, Any]:
        """Energy and cost come from the same read-time derivation every command uses."""
        assert self.runner is not None
        bundle = Bundle(
            path=self.runner.writer.run_dir, manifest=self.runner.writer.manifest, records=records
        )
        return group_metrics(enrich(bundle))

    def run(
        self,
        prompt: str | None = None,
        *,
        messages: list[dict[str, str]] | None = None,
        max_tokens: int = 64,
        check: dict[str, Any] | None = None,
        temperature: float = 0.0,
        task_id: str = "adhoc",
    ) -> Record:
        """Run one prompt (or chat ``messages``) on the session's model and return its ``Record``.

        For tests of your own: the record carries the timings, token counts and, with ``check`` (a suite
        check table such as ``{"type": "contains", "values": ["Paris"]}``), the verdict. Ad-hoc requests
        are not added to the session's bundle (they are not part of the suite).
        """
        from pydantic import ValidationError

        runner = self.start()
        assert self.backend is not None
        spec: dict[str, Any] = {
            "id": task_id,
            "category": "adhoc",
            "max_tokens": max_tokens,
            "temperature": temperature,
            "check": check or {"type": "none"},
        }
        if messages is not None:
            spec["messages"] = messages
        else:
            spec["prompt"] = prompt
        try:
            task = Task.model_validate(spec)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "task"
            raise UsageError(f"infercost.run(): {where}: {first['msg']}") from None
        started, t0 = utc_now(), time.perf_counter_ns()
        try:
            outcome: Generation | RequestFailed = self.backend.generate(task)
        except RequestFailed as exc:
            outcome = exc
        return runner.record_generation(task, 0, False, started, t0, outcome, append=False)

    def close(self) -> Path | None:
        """Finish the bundle and free the engine; returns the bundle directory (None if nothing ran)."""
        run_dir = self.run_dir
        if self.runner is not None:
            self.runner.finish(self.records)
        if self.backend is not None:
            self.backend.close()
        self.runner, self.backend = None, None
        if not self.keep_bundle:
            shutil.rmtree(self.prepared.options.out, ignore_errors=True)
            return None
        return run_dir
