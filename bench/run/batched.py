"""``--concurrency N`` on an in-process device: a closed loop of N streams on one llama.cpp context.

The HTTP closed loop (``bench.run.traffic``) has N workers each sending its next request the moment its
previous one ends; here the "server" is ``bench.backends.llama_batch.BatchEngine`` in this process, so
the loop is synchronous: keep N requests submitted, ``step`` the engine (one ``llama_decode`` over every
active stream), record each request the moment it ends and submit the next one in its place (admitted
at the next step). The plan, records and bundle are the HTTP closed loop's: warmups first (flagged
``warmup``, at the same concurrency), then the measured requests, repetition by repetition; every
record keeps its own stamps (start = submission, TTFT = that stream's first sampled token); a failed
request is recorded and the run goes on; Ctrl-C records the requests in flight as ``cancelled``, keeps
every finished record and raises ``RunInterrupted``.

Concurrency 1 never comes here: the sequential ``Runner`` stays the path for one stream. ``--rate``
(open-loop arrivals) is refused for in-process devices (``TrafficOptions.validate``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bench.backends.base import Generation, RequestFailed
from bench.backends.llama_batch import BatchEngine
from bench.backends.llama_cpp import LlamaCppBackend
from bench.results.bundle import BundleWriter
from bench.results.schema import Manifest, Record, Status
from bench.run.runner import ProgressEvent, RunInterrupted, Runner, RunOutcome, RunSettings, utc_now
from bench.run.traffic import LoadItem, TrafficOptions, load_plan
from bench.suite.loader import PromptSuite

__all__ = ["BatchedRunner"]


@dataclass(frozen=True, slots=True)
class _Sent:
    """A submitted request: what to record when it ends."""

    item: LoadItem
    started_utc: str
    t_fallback_ns: int  # the record's window start if the request produced nothing


class BatchedRunner(Runner):
    """Runs a suite as a closed loop of ``traffic.concurrency`` streams on an in-process backend loaded
    with that many sequences (``LlamaCppBackend(..., n_seq=N)``)."""

    backend: LlamaCppBackend

    def __init__(
        self,
        suite: PromptSuite,
        backend: LlamaCppBackend,
        writer: BundleWriter,
        settings: RunSettings,
        on_progress: Callable[[ProgressEvent], None] | None = None,
        *,
        traffic: TrafficOptions,
        before_finish: Callable[[Manifest], None] | None = None,
    ) -> None:
        super().__init__(suite, backend, writer, settings, on_progress, before_finish=before_finish)
        self.traffic = traffic
        self._sent: dict[int, _Sent] = {}
        self._next_key = 0

    def run(self) -> RunOutcome:
        outcome = RunOutcome(run_dir=self.writer.run_dir, manifest=self.writer.manifest)
        engine = BatchEngine(self.backend)
        try:
            for warmup in (True, False):
                self._closed(engine, load_plan(self.suite, self.settings, warmup=warmup), outcome)
        except KeyboardInterrupt:
            self._cancel(engine, outcome, "interrupted")
            self._finish(outcome, interrupted=True)
            raise RunInterrupted(self.writer.run_dir) from None
        except BaseException:
            self._cancel(engine, outcome, "cancelled: the run stopped")
            self._finish(outcome, interrupted=False, complete=False)
            raise
        finally:
            engine.close()
        self._finish(outcome, interrupted=False)
        return outcome

    def _closed(self, engine: BatchEngine, items: list[LoadItem], outcome: RunOutcome) -> None:
        """Keep ``concurrency`` requests in the engine until ``items`` are all recorded."""
        queue = deque(items)
        width = min(self.traffic.concurrency, engine.n_seq)
        while queue or engine.in_flight:
            while queue and engine.in_flight < width:
                self._submit(engine, queue.popleft())
            for finished in engine.step():
                assert isinstance(finished.key, int)
                sent = self._sent.pop(finished.key)
                result = finished.result
                if isinstance(result, RequestFailed):
                    self._write(outcome, sent, result.partial, result.status, str(result))
                else:
                    self._write(outcome, sent, result, "ok", None)

    def _submit(self, engine: BatchEngine, item: LoadItem) -> None:
        task = self.settings.sent(item.task, item.repetition, item.warmup)
        key = self._next_key
        self._next_key += 1
        self._sent[key] = _Sent(item, utc_now(), time.perf_counter_ns())
        engine.submit(key, task)

    def _cancel(self, engine: BatchEngine, outcome: RunOutcome, why: str) -> None:
        """Record every request still in the engine as cancelled (it was cut short, not failed)."""
        engine.abort()
        for key in sorted(self._sent):
            self._write(outcome, self._sent[key], None, "cancelled", why)
        self._sent.clear()

    def _write(
        self, outcome: RunOutcome, sent: _Sent, gen: Generation | None, status: Status, error: str | None
    ) -> Record:
        item = sent.item
        rec = self._record(item.task, item.repetition, item.warmup, sent.started_utc, sent.t_fallback_ns, gen,
                           status, error)  # fmt: skip
        return self._keep(outcome, item.index, rec)
