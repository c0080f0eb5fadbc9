"""Per agent task: one row per task (means over its measured repetitions) with its steps, tokens by
tier, where the time went, where the energy went, and its cost per task and per success.

The run summary's agent table, the report's agent chart and ``bench.cost`` read these rows; the run-wide
agent figures (shares, means) are ``aggregate.agent_metrics`` over the same summary records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.results import stats
from bench.results.metrics.aggregate import ratio
from bench.results.metrics.policy import MEASURED
from bench.results.schema import Record

__all__ = ["agent_rows"]

_MEANS = (
    "steps", "model_calls", "tool_calls", "tool_errors", "input_fresh_tokens", "cached_tokens",
    "completion_tokens", "wall_s", "model_s", "tool_s", "harness_s", "tool_cpu_s", "energy_j",
)  # fmt: skip


def _per_attempt(
    records: Sequence[Record], task_id: str, kind: str, energy: Sequence[float | None] | None = None
) -> float | None:
    """Mean over measured attempts of Σ energy of the task's ``kind`` records (None: no energy);
    ``energy`` gives each record's energy on one rail instead of its total."""
    totals: dict[int, float] = {}
    for i, r in enumerate(records):
        e = r.energy_j if energy is None else energy[i]
        if r.task_id == task_id and r.kind == kind and not r.warmup and e is not None:
            totals[r.repetition] = totals.get(r.repetition, 0.0) + e
    return stats.mean(totals.values()) if totals else None


def _energy_split(
    records: Sequence[Record], task_id: str, rs: Sequence[Record], rails: dict[str, list[float | None]]
) -> dict[str, Any]:
    """Where an agent task's energy went, per attempt: its model-call windows, its tool windows, the
    rest of the task (harness, gaps between calls), the idle baseline's share of it (what the machine
    draws doing nothing over the task's time: gross minus net), and the same split per sensor rail."""
    task = stats.mean(r.energy_j for r in rs)
    model = _per_attempt(records, task_id, "model")
    tool = _per_attempt(records, task_id, "tool")
    idle = stats.mean(
        r.energy_j - r.energy_net_j for r in rs if r.energy_j is not None and r.energy_net_j is not None
    )
    rest = None if task is None else max(task - (model or 0.0) - (tool or 0.0), 0.0)
    per_rail = {
        name: {
            "task": _per_attempt(records, task_id, "agent", values),
            "model": _per_attempt(records, task_id, "model", values),
            "tool": _per_attempt(records, task_id, "tool", values),
        }
        for name, values in rails.items()
    }
    return {
        "energy_model_j": model,
        "energy_tool_j": tool,
        "energy_harness_j": rest,
        "energy_idle_j": idle,
        "energy_rails_j": per_rail or None,
    }


def agent_rows(
    records: Sequence[Record], rails: dict[str, list[float | None]] | None = None
) -> list[dict[str, Any]]:
    """One row per agent task (means over its measured repetitions): what the after-run table prints.
    ``rails``: every record's energy per sensor rail (``bench.power.records.rail_energies``)."""
    rows = []
    agents = [r for r in MEASURED.select(records) if r.kind == "agent"]
    for task_id in dict.fromkeys(r.task_id for r in agents):
        rs = [r for r in agents if r.task_id == task_id]
        costs = [r.cost_usd for r in rs if r.cost_usd is not None]
        passed = sum(1 for r in rs if r.passed)
        rows.append(
            {
                "task_id": task_id,
                "category": rs[0].category,
                "n": len(rs),
                "passed": passed,
                "stop_reasons": sorted({r.stop_reason for r in rs if r.stop_reason}),
                **{name: stats.mean(getattr(r, name) for r in rs) for name in _MEANS},
                "tool_peak_rss_mb": max((r.tool_peak_rss_mb for r in rs if r.tool_peak_rss_mb), default=None),
                **_energy_split(records, task_id, rs, rails or {}),
                "cost_per_task_usd": stats.mean(costs),
                "cost_per_success_usd": ratio(float(sum(costs)), passed) if costs else None,
            }
        )
    return rows
