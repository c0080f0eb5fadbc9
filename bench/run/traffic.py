"""Load for endpoints that serve many users: closed loop (``--concurrency N``) or open loop (``--rate R``).

- Closed loop: N workers, each sending its next request the moment its previous one ends (what a pool of
  N busy users does). Throughput then depends on latency.
- Open loop: requests start on a seeded Poisson schedule of R per second whether or not earlier ones
  have finished (arrivals from many independent users), optionally capped at ``--concurrency`` requests
  in flight. The schedule is drawn up front; each record keeps its scheduled start (``scheduled_ns``)
  beside its actual dispatch (``start_ns``), so a client that falls behind shows it. To hit the schedule
  the dispatcher sleeps to ~1.5 ms before each start and then yields to the loop until the instant,
  rather than trusting a coarse timer (a known weakness of load generators).

Both run on the HTTP backend's event loop and connection pool (sized to the concurrency), produce the
same ``Record``s as sequential runs through the same ``BundleWriter``, and go in two phases: warmup
requests (closed loop at the same concurrency, flagged ``warmup``) then measured requests. Requests are
ordered repetition by repetition (every task once, then every task again), a realistic mix at any
moment. Every request that was dispatched ends as a record: ok, error, timeout, or cancelled (Ctrl-C, or
another request's fatal error such as a refused key).

An in-process device (backend ``llama_cpp``) takes ``--concurrency N`` too, as a closed loop of N streams
on one llama.cpp context (``bench.run.batched``: continuous batching, the same plan and records);
``--rate`` is refused there.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.backends.base import Generation, RequestFailed
from bench.backends.http.client import OpenAIHttpBackend
from bench.devices.profiles import DeviceProfile
from bench.errors import BenchError, UsageError
from bench.results.bundle import BundleWriter
from bench.results.schema import Manifest, Record, Status
from bench.run.runner import ProgressEvent, RunInterrupted, Runner, RunOutcome, RunSettings, utc_now
from bench.suite.loader import PromptSuite, Task

__all__ = [
    "MAX_CONCURRENCY", "MAX_RATE_RPS", "MIN_RATE_RPS", "LoadItem", "LoadRunner", "TrafficOptions",
    "load_plan", "poisson_schedule",
]  # fmt: skip

_SPIN_NS = 1_500_000  # sleep until this close to a scheduled start, then yield-spin to the instant


# Sane bounds, checked before anything runs: --rate 1e-6 scheduled a run over eleven days, and a
# concurrency beyond what any endpoint serves only exhausts this machine's sockets.
MIN_RATE_RPS = 0.01  # one request every 100 s on average
MAX_RATE_RPS = 100_000.0
MAX_CONCURRENCY = 10_000


@dataclass(frozen=True)
class TrafficOptions:
    """How requests are offered: one at a time (default), closed loop, or open loop."""

    concurrency: int = 1
    rate: float | None = None  # requests per second, Poisson arrivals
    slo_ttft_ms: float | None = None
    slo_tpot_ms: float | None = None

    @property
    def is_load(self) -> bool:
        return self.concurrency > 1 or self.rate is not None

    @property
    def max_connections(self) -> int:
        """Connection pool size: the concurrency, or for an uncapped open loop room for a backlog."""
        if self.rate is not None and self.concurrency <= 1:
            return 1000
        return self.concurrency

    def validate(self, device: DeviceProfile) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise UsageError(
                f"--concurrency {self.concurrency}: give 1 to {MAX_CONCURRENCY:,} requests in flight"
            )
        if self.rate is not None and not MIN_RATE_RPS <= self.rate <= MAX_RATE_RPS:
            raise UsageError(
                f"--rate {self.rate:g}: give {MIN_RATE_RPS:g} to {MAX_RATE_RPS:,.0f} requests per second",
                fix="below 0.01/s a run of a few hundred requests takes days; use --concurrency 1 for "
                "one request at a time",
            )
        for flag, value in (("--slo-ttft-ms", self.slo_ttft_ms), ("--slo-tpot-ms", self.slo_tpot_ms)):
            if value is not None and not value > 0:
                raise UsageError(f"{flag} {value}: must be a positive number of milliseconds")
        if device.backend == "llama_cpp":  # bench.run.batched: N streams on one context
            from bench.backends.llama_batch import MAX_SEQUENCES

            if self.rate is not None:
                raise UsageError(
                    f"--rate: device '{device.name}' runs one in-process engine, which serves --concurrency "
                    "N streams as a closed loop; open-loop arrivals on one in-process engine are not "
                    "supported yet",
                    fix="use --concurrency N, or serve the model over HTTP (llama-server -np N "
                    "--cont-batching) and load it with an endpoint profile, e.g. --device local-server",
                )
            if self.concurrency > MAX_SEQUENCES:
                raise UsageError(
                    f"--concurrency {self.concurrency}: one llama.cpp context holds at most "
                    f"{MAX_SEQUENCES} sequences"
                )
        elif self.is_load and not device.over_http:
            raise UsageError(
                f"--concurrency/--rate: device '{device.name}' (backend {device.backend}) serves one "
                "request at a time",
                fix="load an endpoint profile instead, e.g. --device local-server",
            )
        limit = device.http.max_concurrency
        if limit is not None and self.concurrency > limit:
            raise UsageError(
                f"--concurrency {self.concurrency} exceeds the profile's [http] max_concurrency {limit}"
            )
        rpm = device.http.requests_per_minute
        if rpm is not None and self.rate is not None and self.rate * 60 > rpm:
            raise UsageError(
                f"--rate {self.rate:g}/s exceeds the profile's [http] requests_per_minute {rpm:g} "
                f"({rpm / 60:.3g}/s); the client would pace itself below the schedule"
            )

    def manifest(self) -> dict[str, Any]:
        mode = (
            "open_loop"
            if self.rate is not None
            else ("closed_loop" if self.concurrency > 1 else "sequential")
        )
        return {
            "mode": mode,
            "concurrency": self.concurrency,
            "rate_rps": self.rate,
            "slo_ttft_ms": self.slo_ttft_ms,
            "slo_tpot_ms": self.slo_tpot_ms,
        }


def poisson_schedule(n: int, rate: float, seed: int) -> list[float]:
    """Start offsets in seconds: the first at 0, then exponential gaps of mean 1/rate (seeded)."""
    rng = random.Random(seed)
    offsets, t = [], 0.0
    for i in range(n):
        if i:
            t += rng.expovariate(rate)
        offsets.append(t)
    return offsets


async def _sleep_until(target_ns: int) -> None:
    delay = target_ns - time.perf_counter_ns()
    if delay > _SPIN_NS:
        await asyncio.sleep((delay - _SPIN_NS) / 1e9)
    while time.perf_counter_ns() < target_ns:
        await asyncio.sleep(0)


@dataclass(frozen=True)
class LoadItem:
    """One request of a run under load."""

    index: int  # position of the task in the suite
    task: Task
    repetition: int
    warmup: bool


def load_plan(suite: PromptSuite, settings: RunSettings, *, warmup: bool) -> list[LoadItem]:
    """The warmup or the measured requests of a run under load, repetition by repetition (every task
    once, then every task again: a realistic mix at any moment)."""
    n = settings.warmup if warmup else settings.repetitions
    return [LoadItem(i, task, rep, warmup) for rep in range(n) for i, task in enumerate(suite.tasks)]


class LoadRunner(Runner):
    """Runs a suite under load on the HTTP backend's loop; records go through the runner's own code."""

    backend: OpenAIHttpBackend

    def __init__(
        self,
        suite: PromptSuite,
        backend: OpenAIHttpBackend,
        writer: BundleWriter,
        settings: RunSettings,
        on_progress: Callable[[ProgressEvent], None] | None = None,
        *,
        traffic: TrafficOptions,
        before_finish: Callable[[Manifest], None] | None = None,
    ) -> None:
        super().__init__(suite, backend, writer, settings, on_progress, before_finish=before_finish)
        self.traffic = traffic
        self.seed = settings.seed  # the open-loop schedule's
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main_task: asyncio.Task[Any] | None = None
        self._fatal: BaseException | None = None

    def _plan(self, warmup: bool) -> list[LoadItem]:
        return load_plan(self.suite, self.settings, warmup=warmup)

    def run(self) -> RunOutcome:
        outcome = RunOutcome(run_dir=self.writer.run_dir, manifest=self.writer.manifest)
        # Freeze what exists (the loaded libraries: ~10^5 objects) out of the collector's reach: full
        # collections over them stalled the loop for milliseconds and made open-loop starts late
        # (measured: p50 start lag 0.9 → 0.1 ms, p99 12 → 5 ms at 50 req/s on a busy 2-core VM).
        gc.collect()
        gc.freeze()
        try:
            self.backend.run(self._main(outcome))
        except KeyboardInterrupt:
            self.backend.run(self._cancel_all())
            self._finish(outcome, interrupted=True)
            raise RunInterrupted(self.writer.run_dir) from None
        except BaseException:
            self.backend.run(self._cancel_all())
            self._finish(outcome, interrupted=False, complete=False)
            raise
        finally:
            gc.unfreeze()
        self._finish(outcome, interrupted=False)
        return outcome

    async def _main(self, outcome: RunOutcome) -> None:
        self._main_task = asyncio.current_task()
        warm = self._plan(warmup=True)
        if warm:
            await self._closed(warm, self.traffic.concurrency, outcome)
        measured = self._plan(warmup=False)
        if self.traffic.rate is not None:
            await self._open(measured, self.traffic.rate, outcome)
        else:
            await self._closed(measured, self.traffic.concurrency, outcome)

    async def _closed(self, items: list[LoadItem], n: int, outcome: RunOutcome) -> None:
        queue = deque(items)

        async def worker() -> None:
            while queue and self._fatal is None:
                await self._request(queue.popleft(), outcome)

        await self._all(asyncio.ensure_future(worker()) for _ in range(min(n, len(items))))

    async def _open(self, items: list[LoadItem], rate: float, outcome: RunOutcome) -> None:
        offsets = poisson_schedule(len(items), rate, self.seed)
        cap = asyncio.Semaphore(self.traffic.concurrency) if self.traffic.concurrency > 1 else None
        loop = asyncio.get_running_loop()
        started: list[asyncio.Future[Any]] = []
        t0 = time.perf_counter_ns() + 5_000_000  # a moment to settle before the first arrival
        for item, offset in zip(items, offsets, strict=True):
            target = t0 + int(offset * 1e9)
            await _sleep_until(target)
            if self._fatal is not None:
                break
            started.append(loop.create_task(self._request(item, outcome, scheduled_ns=target, cap=cap)))
        await self._all(started)

    async def _all(self, futures: Iterable[asyncio.Future[Any]]) -> None:
        """Wait for all; on the first exception cancel the rest (their records say cancelled), re-raise."""
        pending = set(futures)
        if not pending:
            return
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        failed = [f for f in done if not f.cancelled() and f.exception() is not None]
        if failed:
            for f in pending:
                f.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            exc = failed[0].exception()
            assert exc is not None
            raise exc

    async def _cancel_all(self) -> None:
        """After Ctrl-C or a fatal error: stop dispatching, cancel what is in flight, let it record."""
        if self._main_task is not None and not self._main_task.done():
            self._main_task.cancel()
            await asyncio.gather(self._main_task, return_exceptions=True)
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _request(
        self,
        item: LoadItem,
        outcome: RunOutcome,
        *,
        scheduled_ns: int | None = None,
        cap: asyncio.Semaphore | None = None,
    ) -> Record:
        me = asyncio.current_task()
        if me is not None:
            self._tasks.add(me)
        try:
            if cap is not None:
                async with cap:
                    return await self._measure(item, outcome, scheduled_ns)
            return await self._measure(item, outcome, scheduled_ns)
        finally:
            if me is not None:
                self._tasks.discard(me)

    async def _measure(self, item: LoadItem, outcome: RunOutcome, scheduled_ns: int | None) -> Record:
        task = item.task
        sent = self.settings.sent(task, item.repetition, item.warmup)
        started = utc_now()
        t_fallback = time.perf_counter_ns()
        gen: Generation | None = None
        status: Status = "ok"
        error: str | None = None
        try:
            gen = await self.backend.agenerate(sent)
        except RequestFailed as exc:
            status, error, gen = exc.status, str(exc), exc.partial
        except (asyncio.CancelledError, KeyboardInterrupt):
            self._write(outcome, item, started, t_fallback, None, "cancelled", "cancelled", scheduled_ns)
            raise
        except BenchError as exc:
            self._fatal = exc
            self._write(outcome, item, started, t_fallback, None, "error", str(exc), scheduled_ns)
            raise
        except Exception as exc:  # a request must never take the run down; the error is recorded
            status, error = "error", f"{type(exc).__name__}: {exc}"
        return self._write(outcome, item, started, t_fallback, gen, status, error, scheduled_ns)

    def _write(
        self,
        outcome: RunOutcome,
        item: LoadItem,
        started: str,
        t_fallback: int,
        gen: Generation | None,
        status: Status,
        error: str | None,
        scheduled_ns: int | None,
    ) -> Record:
        rec = self._record(item.task, item.repetition, item.warmup, started, t_fallback, gen, status, error)
        if scheduled_ns is not None:
            rec = rec.model_copy(update={"scheduled_ns": scheduled_ns - self.anchor_ns})
        return self._keep(outcome, item.index, rec)
