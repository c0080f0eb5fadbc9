"""Pick the best candidate run: the one that meets every absolute rule and is cheapest, fastest or leanest.

Candidates are runs of the *same suite* (refused otherwise: different tasks are not comparable) on any
mix of models and devices. Each candidate is checked against the rules file's ``[absolute]`` table with the
gate's own evaluation (``bench.ci.gate.evaluate_absolute``), so ``choose`` and ``gate`` never disagree about a
rule; ``[relative]`` rules need a baseline and are ignored here (said so).

Ranking (``--by``): ``cost`` → cost per *successful* task (what a team pays for an answer that works),
``latency`` → e2e p95 (what users wait for), ``energy`` → energy per task. Values equal at the precision the
reports show them are a tie, broken deterministically by, in order: higher pass rate, then the other
ranking metrics, then the candidate's name; the tie and what broke it are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from bench.ci.gate import (
    RuleOutcome,
    Rules,
    evaluate_absolute,
    format_value,
    metric_value,
    missing_reason,
    run_label,
)
from bench.errors import EXIT_FAILED, EXIT_OK, UsageError
from bench.report.runs import Run
from bench.results.metrics.registry import FIELDS

__all__ = ["BY_METRIC", "Choice", "Verdict", "candidate_labels", "choose", "sweep_candidates"]

By = Literal["cost", "latency", "energy"]

BY_METRIC: dict[str, str] = {
    "cost": "cost_per_success_usd",
    "latency": "e2e_p95_ms",
    "energy": "energy_per_task_j",
}
_WORDS = {
    "cost": ("cost per success", "costlier"),
    "latency": ("e2e p95", "slower"),
    "energy": ("energy per task", "uses more energy"),
}


@dataclass(frozen=True)
class Verdict:
    """One candidate: did it qualify, its ranking value, and one line saying why it won or lost."""

    label: str
    view: Run
    outcomes: list[RuleOutcome]
    value: float | None
    reason: str = ""
    chosen: bool = False

    @property
    def qualified(self) -> bool:
        return all(o.status == "pass" for o in self.outcomes)

    @property
    def line(self) -> str:
        return f"{'chosen: ' if self.chosen else ''}{self.label}: {self.reason}"


@dataclass(frozen=True)
class Choice:
    by: str
    metric: str
    winner: Verdict | None
    verdicts: list[Verdict]  # the winner first, then the rest in rank order, then the disqualified
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.winner is not None else EXIT_FAILED


def candidate_labels(views: Sequence[Run]) -> list[str]:
    """``model on device``; where two coincide, the backend settings that differ, then the bundle name."""
    labels = [run_label(v) for v in views]
    for label in set(labels):
        same = [i for i, lab in enumerate(labels) if lab == label]
        if len(same) < 2:
            continue
        settings = [views[i].manifest.backend.settings.recorded() for i in same]
        keys = sorted({k for s in settings for k in s if len({str(t.get(k)) for t in settings}) > 1})
        for i, s in zip(same, settings, strict=True):
            if keys:
                labels[i] += " (" + ", ".join(f"{k}={s.get(k)}" for k in keys) + ")"
    for label in set(labels):
        same = [i for i, lab in enumerate(labels) if lab == label]
        if len(same) > 1:
            for i in same:
                labels[i] += f" · {Path(views[i].path).name}"
    return labels


def _shown(metric: str, value: float | None) -> float | None:
    """The value as the registry displays it (read back as a number): values shown the same are a tie."""
    return FIELDS[metric].shown(value)


def _tie_breakers(by: str) -> list[str]:
    return ["pass_rate", *(m for b, m in BY_METRIC.items() if b != by)]


def _key(view: Run, metrics: list[str], label: str) -> tuple[object, ...]:
    """Sort key, best first: each metric rounded as displayed, oriented so that lower sorts first."""
    parts: list[object] = []
    for m in metrics:
        v = _shown(m, metric_value(m, view))
        if v is None:
            parts.append((1, 0.0))  # missing sorts last
        else:
            parts.append((0, -v if FIELDS[m].higher_is_better else v))
    return (*parts, label)


def _failure_reason(outcomes: list[RuleOutcome]) -> str:
    bad = [o for o in outcomes if o.status != "pass"]
    parts = []
    for o in bad:
        if o.status == "no data":
            parts.append(f"cannot be checked against {o.rule}: {o.detail}")
        else:
            parts.append(f"fails {o.rule}: {o.detail}")
    return "; ".join(parts)


def _check_same_suite(views: Sequence[Run]) -> None:
    hashes = {v.manifest.suite.hash for v in views}
    if len(hashes) > 1:
        listing = ", ".join(
            f"{v.path} ran {v.manifest.suite.name} ({str(v.manifest.suite.hash)[:12]})" for v in views
        )
        raise UsageError(
            f"the candidates ran different suites ({listing}): their tasks differ",
            fix="run every candidate on the same suite",
        )


def sweep_candidates(path: str | Path) -> tuple[list[Run], list[str], list[str]]:
    """The done cells of a sweep as candidates, labelled by cell and settings (``c03 threads=2 ...``), and
    a note for each cell that cannot be one (failed, unfinished)."""
    from bench.report.sweep_table import load_sweep

    view = load_sweep(path)
    runs, labels, notes = [], [], []
    for row in view.rows:
        if row.run is not None and row.run.manifest.complete:
            runs.append(row.run)
            labels.append(f"{row.cell_id} {row.label}")
        else:
            why = f": {row.error}" if row.error else ""
            notes.append(f"{path}: cell {row.cell_id} ({row.label}) is not a candidate: {row.status}{why}")
    if not runs:
        raise UsageError(f"{path}: no cell of the sweep finished, so there is nothing to choose from")
    return runs, labels, notes


def choose(
    views: Sequence[Run], rules: Rules, by: str = "cost", labels: Sequence[str | None] | None = None
) -> Choice:
    """The best qualifying candidate and a one-line verdict for every candidate. ``labels``: names for
    some candidates (a sweep's cells); the others are named ``model on device``."""
    if by not in BY_METRIC:
        raise UsageError(f"--by {by}: use one of {', '.join(BY_METRIC)}")
    if not views:
        raise UsageError("choose needs at least one run")
    metric = BY_METRIC[by]
    what, worse = _WORDS[by]
    named = candidate_labels(views)
    given = list(labels) if labels is not None else [None] * len(views)
    shown_labels: list[str] = [g or n for g, n in zip(given, named, strict=True)]
    _check_same_suite(views)
    notes = []
    if rules.relative:
        names = ", ".join(r.name for r in rules.relative)
        notes.append(f"[relative] rules ({names}) are ignored: they need a baseline (use infercost gate)")
    verdicts = [
        Verdict(lab, v, [evaluate_absolute(r, v) for r in rules.absolute], metric_value(metric, v))
        for lab, v in zip(shown_labels, views, strict=True)
    ]
    for i, rule in enumerate(rules.absolute):
        if all(vd.outcomes[i].status == "no data" for vd in verdicts):
            raise UsageError(
                f"{rules.source}: absolute.{rule.name}: no candidate has the data: "
                f"{verdicts[0].outcomes[i].detail}"
            )
    qualified = [vd for vd in verdicts if vd.qualified]
    ranked = [vd for vd in qualified if vd.value is not None]
    if qualified and not ranked:
        raise UsageError(
            f"--by {by}: no qualifying candidate can be ranked by {what}: "
            f"{missing_reason(metric, qualified[0].view)}",
            fix="rank --by latency, or run with prices and a power sensor",
        )
    order = [metric, *_tie_breakers(by)]
    ranked.sort(key=lambda vd: _key(vd.view, order, vd.label))
    out: list[Verdict] = []
    winner = None
    if ranked:
        best = ranked[0]
        best_shown = _shown(metric, best.value)
        tied = [vd for vd in ranked[1:] if _shown(metric, vd.value) == best_shown]
        reason = f"meets every rule; {what} {format_value(metric, best.value)}"
        if tied:
            reason += f"; {_tie_note(best, tied, metric, what, by)}"
        winner = replace(best, reason=reason, chosen=True)
        out.append(winner)
        for vd in ranked[1:]:
            if _shown(metric, vd.value) == best_shown:
                reason = f"qualified, tied on {what} ({format_value(metric, vd.value)}), lost the tie-break"
            else:
                theirs, ours = format_value(metric, vd.value), format_value(metric, best.value)
                reason = f"qualified but {worse}: {theirs} vs {ours}"
            out.append(replace(vd, reason=reason))
    for vd in qualified:
        if vd.value is None:
            reason = f"qualified but cannot be ranked: {missing_reason(metric, vd.view)}"
            out.append(replace(vd, reason=reason))
    for vd in verdicts:
        if not vd.qualified:
            out.append(replace(vd, reason=_failure_reason(vd.outcomes)))
    return Choice(by=by, metric=metric, winner=winner, verdicts=out, notes=notes)


def _tie_note(winner: Verdict, tied: list[Verdict], metric: str, what: str, by: str) -> str:
    names = ", ".join(t.label for t in tied)
    head = f"tied with {names}"
    runner_up = tied[0]
    for m in _tie_breakers(by):
        va, vb = metric_value(m, winner.view), metric_value(m, runner_up.view)
        a, b = _shown(m, va), _shown(m, vb)
        if a != b:
            word = "higher" if FIELDS[m].higher_is_better else "lower"
            label = FIELDS[m].label if m != "pass_rate" else "pass rate"
            return f"{head}: chosen by {word} {label} ({format_value(m, va)} vs {format_value(m, vb)})"
    return f"{head}: otherwise equal, chosen by name (first in alphabetical order)"
