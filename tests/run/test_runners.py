"""The runner registry (bench/run/runners.py): which way of running each kind of run gets, and how a
new one is added ahead of the catch-all."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench.run import runners
from bench.run.runners import RUNNERS, RunnerContext, RunnerKind, register_runner, select_runner
from bench.run.traffic import TrafficOptions


def _ctx(
    *, agent: bool = False, trace: Path | None = None, concurrency: int = 1, backend: str = "openai_http"
) -> Any:
    return RunnerContext(
        suite=SimpleNamespace(has_agent_tasks=agent),  # type: ignore[arg-type]
        device=SimpleNamespace(backend=backend),  # type: ignore[arg-type]
        backend=None,  # type: ignore[arg-type]
        writer=None,  # type: ignore[arg-type]
        settings=None,  # type: ignore[arg-type]
        on_progress=None,
        prior=(),
        before_finish=None,
        traffic=TrafficOptions(concurrency),
        trace=trace,
    )


@pytest.mark.parametrize(
    "ctx,name",
    [
        (_ctx(), "sequential"),
        (_ctx(backend="llama_cpp"), "sequential"),
        (_ctx(agent=True), "agent"),
        (_ctx(trace=Path("t.jsonl")), "trace"),
        (_ctx(concurrency=4), "load"),
        (_ctx(concurrency=4, backend="llama_cpp"), "batched"),
    ],
)
def test_each_run_gets_its_runner(ctx: RunnerContext, name: str) -> None:
    assert select_runner(ctx).name == name


def test_a_registered_runner_goes_ahead_of_the_catch_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runners, "RUNNERS", list(RUNNERS))
    special = RunnerKind("special", lambda c: c.device.backend == "special", lambda c: None)  # type: ignore[arg-type, return-value]
    register_runner(special)
    assert [k.name for k in runners.RUNNERS][-2:] == ["special", "sequential"]
    assert select_runner(_ctx(backend="special")).name == "special"
    register_runner(special, before="trace")  # registering again moves it, never duplicates it
    assert [k.name for k in runners.RUNNERS].count("special") == 1 and runners.RUNNERS[0] is special
