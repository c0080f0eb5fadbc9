"""Energy per rail and the agent energy split (issue 14: model windows vs tool windows vs the idle
baseline, per rail where the sensor has rails), on a power.csv written by the real TraceWriter."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.power.base import PowerSample
from bench.power.records import apply_energy, rail_energies
from bench.power.trace import TraceWriter, read_trace
from bench.results.metrics.agents import agent_rows
from bench.results.schema import PowerFacts, Record
from tests.helpers.records import manifest

S = 1_000_000_000
CPU_W, GPU_W = 2.0, 8.0  # the GPU rail draws 8 W while the model runs, 0.5 W otherwise
IDLE_W = 1.5


def _gpu_w(t_ns: int) -> float:
    return GPU_W if 1 * S <= t_ns < 3 * S else 0.5


def _trace(run_dir: Path) -> None:
    w = TraceWriter(run_dir / "power.csv", ("VDD_CPU_CV", "VDD_GPU_SOC"), "power", anchor_ns=0)
    for k in range(0, 401):  # 100 Hz over 4 s
        t = k * S // 100
        w.write(PowerSample(t_ns=t, power_w=CPU_W + _gpu_w(t), rails=(CPU_W, _gpu_w(t))))
    w.close()


def _rec(kind: str | None, start_s: float, end_s: float, **kw: object) -> Record:
    return Record(
        run_id="r1", task_id="a", category="agent", repetition=0, warmup=False, status="ok",
        started_utc="2026-11-28T00:00:00Z", start_ns=int(start_s * S), end_ns=int(end_s * S), kind=kind, **kw,
    )  # type: ignore[arg-type]  # fmt: skip


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[list[Record], object]:
    _trace(tmp_path)
    m = manifest()
    m.power = PowerFacts(sensor="jetson", kind="power", period_s=0.01, idle_w=IDLE_W, rails=["a", "b"])
    # one agent task over 0.5-3.5 s: a model call 1-3 s (GPU busy), a tool call 3.0-3.5 s
    records = [_rec("model", 1.0, 3.0, step=0), _rec("tool", 3.0, 3.5, step=0), _rec("agent", 0.5, 3.5)]
    return records, m


def test_the_trace_reads_its_rails_back(tmp_path: Path) -> None:
    _trace(tmp_path)
    trace = read_trace(tmp_path / "power.csv")
    assert set(trace.rails) == {"VDD_CPU_CV", "VDD_GPU_SOC"} and not trace.rail_counters
    assert trace.rails["VDD_CPU_CV"][0] == pytest.approx(CPU_W)


def test_each_rail_gets_its_own_share_of_every_window(
    bundle: tuple[list[Record], object], tmp_path: Path
) -> None:
    records, m = bundle
    rails = rail_energies(records, m, tmp_path)  # type: ignore[arg-type]
    model, tool, task = 0, 1, 2
    assert rails["VDD_CPU_CV"][model] == pytest.approx(2 * CPU_W, rel=0.01)
    assert rails["VDD_GPU_SOC"][model] == pytest.approx(2 * GPU_W, rel=0.01)
    assert rails["VDD_GPU_SOC"][tool] == pytest.approx(0.5 * 0.5, rel=0.05)
    assert rails["VDD_GPU_SOC"][task] == pytest.approx(0.5 * 0.5 + 2 * GPU_W + 0.5 * 0.5, rel=0.02)


def test_an_agent_task_energy_is_split_by_where_it_went_and_by_rail(
    bundle: tuple[list[Record], object], tmp_path: Path
) -> None:
    records, m = bundle
    enriched = apply_energy(records, m, tmp_path)  # type: ignore[arg-type]
    (row,) = agent_rows(enriched, rail_energies(enriched, m, tmp_path))  # type: ignore[arg-type]
    total = row["energy_j"]
    assert total == pytest.approx(3 * CPU_W + 2 * GPU_W + 1.0 * 0.5, rel=0.02)
    assert row["energy_model_j"] == pytest.approx(2 * (CPU_W + GPU_W), rel=0.01)
    assert row["energy_tool_j"] == pytest.approx(0.5 * (CPU_W + 0.5), rel=0.05)
    assert row["energy_harness_j"] == pytest.approx(total - row["energy_model_j"] - row["energy_tool_j"])
    assert row["energy_idle_j"] == pytest.approx(IDLE_W * 3.0, rel=0.01)  # the baseline over the task's 3 s
    gpu = row["energy_rails_j"]["VDD_GPU_SOC"]
    assert gpu["model"] == pytest.approx(2 * GPU_W, rel=0.01) and gpu["task"] > gpu["model"]


def test_a_trace_without_rails_gives_no_rail_split(tmp_path: Path) -> None:
    w = TraceWriter(tmp_path / "power.csv", (), "power", anchor_ns=0)
    for k in range(200):
        w.write(PowerSample(t_ns=k * S // 100, power_w=5.0))
    w.close()
    m = manifest()
    m.power = PowerFacts(sensor="x", kind="power", period_s=0.01)
    assert rail_energies([_rec("agent", 0.1, 1.5)], m, tmp_path) == {}
