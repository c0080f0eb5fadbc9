"""Energy in the summary: metrics per group, the estimated flag, the note under the table, and the table's
"≈" marks (fast: records built by hand, no engine)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from bench.cli.summary import summary_table as _summary_table
from bench.report.energy import power_note
from bench.report.summary import summarize
from bench.results.metrics.aggregate import group_metrics
from bench.results.schema import Manifest, Record


def rec(
    task: str, energy: float | None, source: str | None, *, tokens: int = 10, warmup: bool = False
) -> Record:
    return Record(
        run_id="r",
        task_id=task,
        category="c",
        repetition=0,
        warmup=warmup,
        status="ok",
        started_utc="2026-11-26T00:00:00Z",
        start_ns=0,
        end_ns=1_000_000_000,
        completion_tokens=tokens,
        energy_j=energy,
        energy_net_j=None if energy is None else energy - 5.0,
        avg_power_w=None if energy is None else energy / 2.0,  # as if each took 2 s
        energy_source=source,  # type: ignore[arg-type]
    )


def manifest(power: dict[str, Any] | None) -> Manifest:
    return Manifest(
        tool_version="0",
        run_id="r",
        started_utc="2026-11-26T00:00:00Z",
        anchor_perf_ns=0,
        host={},
        device={"name": "box"},
        backend={},
        suite={"name": "s"},
        settings={},
        power=power,
    )


def test_group_metrics_energy() -> None:
    records = [
        rec("a", 20.0, "counter"),
        rec("b", 40.0, "apportioned"),
        rec("w", 99.0, "counter", warmup=True),
    ]
    m = group_metrics(records)
    assert m["energy_per_task_j"] == 30.0 and m["j_per_token"] == 3.0
    assert m["energy_net_per_task_j"] == 25.0 and m["avg_power_w"] == 15.0  # 60 J over 4 s
    assert m["energy_estimated"] is False and m["energy_sources"] == {"counter": 1, "apportioned": 1}
    none = group_metrics([rec("a", None, None)])
    assert (
        none["energy_per_task_j"] is None and none["avg_power_w"] is None and none["energy_estimated"] is None
    )


def test_estimated_values_are_marked_in_the_table() -> None:
    power = {"sensor": "estimate", "kind": "counter", "estimated": True, "rate_hz": 10, "idle_w": 12.0}
    summary = summarize([rec("a", 20.0, "estimated")], manifest(power), run_dir="x")
    assert summary["overall"]["energy_estimated"] is True
    console = Console(width=200, record=True)
    console.print(_summary_table(summary))
    text = console.export_text()
    assert "J/task" in text and "≈20.00" in text and "≈10.0" in text and "~" not in text
    note = power_note(summary)
    assert note and "ESTIMATED" in note and "idle 12.00 W" in note


def test_measured_values_are_not_marked_and_absent_columns_hidden() -> None:
    power = {"sensor": "rapl", "kind": "counter", "estimated": False, "rate_hz": 10, "total": "package-0"}
    summary = summarize([rec("a", 20.0, "counter"), rec("b", 2.0, "apportioned")], manifest(power))
    console = Console(width=200, record=True)
    console.print(_summary_table(summary))
    text = console.export_text()
    assert "11.00" in text and "≈" not in text  # mean of 20 J and 2 J
    note = power_note(summary)
    assert note and "total = package-0" in note and "1/2 requests apportioned" in note
    bare = summarize(
        [rec("a", None, None)], manifest({"sensor": "none", "reason": "no readable power sensor"})
    )
    console = Console(width=200, record=True)
    console.print(_summary_table(bare))
    assert "J/task" not in console.export_text()
    assert power_note(bare) == "energy: not measured (no readable power sensor)"


def test_a_slowed_sampler_is_said_under_the_table() -> None:
    lowered = {"from_hz": 100.0, "to_hz": 2.2, "cpu_share": 0.45, "after_s": 6.0}
    power = {"sensor": "nvml", "kind": "counter", "estimated": False, "rate_hz": 100, "rate_lowered": lowered}
    summary = summarize([rec("a", 20.0, "counter")], manifest(power))
    assert summary["power"]["rate_lowered"] == lowered
    note = power_note(summary) or ""
    assert "sampling slowed to 2.2 Hz after 6 s: at 100 Hz the sensor's reads took 45% of a core" in note
