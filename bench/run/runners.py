"""Which runner drives a run: a registry, tried in order, instead of a chain of ifs in ``execute_run``.

Every runner is a ``bench.run.runner.Runner`` (same bundle, progress events, Ctrl-C handling and record
factory); they differ in how requests are issued:

========== ==================================================================== ===========================
name       runs                                                                 module
========== ==================================================================== ===========================
trace      a recorded agent session, step by step (``run --trace``)             ``bench.run.trace``
agent      a suite with agent tasks (model and tool calls in a loop)             ``bench.run.agent``
batched    ``--concurrency N`` on an in-process engine (one batched context)     ``bench.run.batched``
load       ``--concurrency N`` / ``--rate`` against an HTTP endpoint             ``bench.run.traffic``
sequential one request at a time (everything else)                               ``bench.run.runner``
========== ==================================================================== ===========================

The first entry whose ``claims`` accepts the run builds its runner. ``prepare_run`` has already refused
the combinations no runner serves (``--trace`` with ``--concurrency``, agent tasks under load), so the
order only settles which of two claims is the more specific. A new way of issuing requests registers
itself with ``register_runner`` ahead of ``sequential``. Runners that are rarely used are imported only
when chosen (the in-process engine loads a native library).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.backends.base import Backend
from bench.devices.profiles import DeviceProfile
from bench.results.bundle import BundleWriter
from bench.results.schema import Manifest, Record
from bench.run.agent_protocol import Protocol
from bench.run.runner import ProgressEvent, Runner, RunSettings
from bench.run.traffic import LoadRunner, TrafficOptions
from bench.suite.loader import PromptSuite

__all__ = ["RUNNERS", "RunnerContext", "RunnerKind", "build_runner", "register_runner", "select_runner"]


@dataclass(frozen=True)
class RunnerContext:
    """Everything a runner may be built from: the run's inputs, its loaded backend and open bundle."""

    suite: PromptSuite
    device: DeviceProfile
    backend: Backend
    writer: BundleWriter
    settings: RunSettings
    on_progress: Callable[[ProgressEvent], None] | None
    prior: Sequence[Record]
    before_finish: Callable[[Manifest], None] | None
    traffic: TrafficOptions
    prefix_cache: bool = True
    agent_protocol: str = "auto"  # what the user asked for (auto | native | text)
    tool_protocol: Protocol = "native_tools"  # what it came to on this backend
    trace: Path | None = None
    model_name: str = ""

    @property
    def manifest(self) -> Manifest:
        return self.writer.manifest


@dataclass(frozen=True)
class RunnerKind:
    """One way to run: ``claims`` says whether it serves this run, ``build`` makes its runner."""

    name: str
    claims: Callable[[RunnerContext], bool]
    build: Callable[[RunnerContext], Runner]


def _record_prefix_cache(ctx: RunnerContext) -> None:
    """Agent loops and replays: whether step prefixes are kept decides every step's prefill, so the
    manifest says so (runs differing in it are never pooled)."""
    ctx.manifest.backend.settings.prefix_cache = ctx.prefix_cache


def _trace(ctx: RunnerContext) -> Runner:
    from bench.run.trace import TraceRunner, load_trace

    assert ctx.trace is not None
    _record_prefix_cache(ctx)
    return TraceRunner(
        ctx.suite, ctx.backend, ctx.writer, ctx.settings, ctx.on_progress, prior=ctx.prior,
        before_finish=ctx.before_finish, steps=load_trace(ctx.trace), prefix_cache=ctx.prefix_cache,
        protocol=ctx.agent_protocol,
    )  # fmt: skip


def _agent(ctx: RunnerContext) -> Runner:
    from bench.run.agent import AgentRunner

    _record_prefix_cache(ctx)
    return AgentRunner(
        ctx.suite, ctx.backend, ctx.writer, ctx.settings, ctx.on_progress, prior=ctx.prior,
        before_finish=ctx.before_finish, prefix_cache=ctx.prefix_cache, model_name=ctx.model_name,
        protocol=ctx.agent_protocol, tool_protocol=ctx.tool_protocol,
    )  # fmt: skip


def _batched(ctx: RunnerContext) -> Runner:
    from bench.backends.llama_cpp import LlamaCppBackend
    from bench.run.batched import BatchedRunner

    assert isinstance(ctx.backend, LlamaCppBackend)  # TrafficOptions.validate: closed loop only
    return BatchedRunner(
        ctx.suite, ctx.backend, ctx.writer, ctx.settings, ctx.on_progress,
        traffic=ctx.traffic, before_finish=ctx.before_finish,
    )  # fmt: skip


def _load(ctx: RunnerContext) -> Runner:
    return LoadRunner(
        ctx.suite,
        ctx.backend,  # type: ignore[arg-type]  # TrafficOptions.validate: an OpenAIHttpBackend
        ctx.writer,
        ctx.settings,
        ctx.on_progress,
        traffic=ctx.traffic,
        before_finish=ctx.before_finish,
    )


def _sequential(ctx: RunnerContext) -> Runner:
    return Runner(
        ctx.suite, ctx.backend, ctx.writer, ctx.settings, ctx.on_progress, prior=ctx.prior,
        before_finish=ctx.before_finish, tool_protocol=ctx.tool_protocol,
    )  # fmt: skip


RUNNERS: list[RunnerKind] = [
    RunnerKind("trace", lambda c: c.trace is not None, _trace),
    RunnerKind("agent", lambda c: c.suite.has_agent_tasks, _agent),
    RunnerKind("batched", lambda c: c.traffic.is_load and c.device.backend == "llama_cpp", _batched),
    RunnerKind("load", lambda c: c.traffic.is_load, _load),
    RunnerKind("sequential", lambda c: True, _sequential),
]


def register_runner(kind: RunnerKind, *, before: str = "sequential") -> None:
    """Add ``kind`` ahead of the entry named ``before`` (replacing an entry of the same name)."""
    RUNNERS[:] = [k for k in RUNNERS if k.name != kind.name]
    names = [k.name for k in RUNNERS]
    RUNNERS.insert(names.index(before) if before in names else len(RUNNERS), kind)


def select_runner(ctx: RunnerContext) -> RunnerKind:
    """The first registered way to run that serves ``ctx`` (``sequential`` serves every run)."""
    return next(k for k in RUNNERS if k.claims(ctx))


def build_runner(ctx: RunnerContext) -> Runner:
    return select_runner(ctx).build(ctx)
