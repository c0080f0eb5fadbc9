"""The after-run table of an agent suite: per task, success, steps, calls, tokens by tier, where the time
went, tool CPU, energy and dollars (rows from ``bench.results.metrics.agents.agent_rows``)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from bench.results.metrics.registry import FIELDS

__all__ = ["agent_table", "energy_lines"]


def _n(value: Any, fmt: str = "{:.0f}") -> str:
    return "–" if value is None else fmt.format(value)


def agent_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="agent tasks (means per attempt)", title_justify="left", box=None)
    cols = ["task", "pass", "steps", "tool calls", "err", "fresh in", "cached in", "out", "model s",
            "tool s", "harness s", "tool CPU s", "J", "$/task", "$/success", "stop"]  # fmt: skip
    for c in cols:
        table.add_column(c, justify="left" if c in ("task", "stop") else "right", no_wrap=True)
    usd = FIELDS["cost_per_task_usd"]
    for r in rows:
        table.add_row(
            r["task_id"],
            f"{r['passed']}/{r['n']}",
            _n(r["steps"], "{:.1f}"),
            _n(r["tool_calls"], "{:.1f}"),
            _n(r["tool_errors"], "{:.1f}"),
            _n(r["input_fresh_tokens"]),
            _n(r["cached_tokens"]),
            _n(r["completion_tokens"]),
            _n(r["model_s"], "{:.2f}"),
            _n(r["tool_s"], "{:.3f}"),
            _n(r["harness_s"], "{:.4f}"),
            _n(r["tool_cpu_s"], "{:.3f}"),
            _n(r["energy_j"], "{:.1f}"),
            usd.format(r["cost_per_task_usd"]),
            usd.format(r["cost_per_success_usd"]),
            ",".join(r["stop_reasons"]),
        )
    return table


def _total(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(sum(known)) if known else None


def _j(value: float | None) -> str:
    return _n(value, "{:.1f}")


def energy_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Where the agent tasks' energy went (J per attempt, summed over tasks): model calls, tools, the
    rest of the task, and how much of it the idle baseline accounts for; then the same per rail. Nothing
    when no energy was measured."""
    task = _total([r.get("energy_j") for r in rows])
    if not task:
        return []
    model, tool, rest, idle = (
        _total([r.get(k) for r in rows])
        for k in ("energy_model_j", "energy_tool_j", "energy_harness_j", "energy_idle_j")
    )
    lines = [
        f"agent energy (J per attempt, all tasks): {task:.1f} = model {_j(model)} · tools {_j(tool)} · "
        f"rest {_j(rest)}; idle baseline {_j(idle)} of it"
    ]
    rails: dict[str, dict[str, list[float | None]]] = {}
    for r in rows:
        for name, split in (r.get("energy_rails_j") or {}).items():
            for what, value in split.items():
                rails.setdefault(name, {}).setdefault(what, []).append(value)
    for name, split in rails.items():
        lines.append(
            f"  rail {name}: {_j(_total(split.get('task', [])))} J "
            f"(model {_j(_total(split.get('model', [])))} · tools {_j(_total(split.get('tool', [])))})"
        )
    return lines
