"""CI gating: rules over a run's summary metrics, absolute or relative to a baseline → pass/fail with reasons.

A rules file (``gate.toml``) has two tables::

    alpha = 0.05                        # optional: significance level of relative rules

    [absolute]                          # the run's own value against a limit
    pass_rate = ">= 0.5"                # or ">= 50%", or a bare number: the operator follows the direction
    cost_per_task_usd = "<= 0.001"

    [relative]                          # the run against --baseline: how much worse it may get
    decode_tps_mean = "-5%"             # may drop by at most 5%
    ttft_p95_ms = "+10%"                # may rise by at most 10%

    [categories.simple_python.absolute] # the same rules over one category's tasks only (a public
    pass_rate = ">= 40%"                # benchmark's category, e.g. BFCL's simple_python)

A rule's name is the metric's name in the field registry (``bench/results/metrics/registry.py``): the
names the report's CSV and JSON use. Every registry metric with a direction can be gated; its
*direction* is the registry's ``higher_is_better``, so a rule whose operator or sign points the wrong way
(``decode_tps_mean = "<= 10"``) is refused rather than silently inverted. Names of earlier releases
(``decode_tps``, ``tpot_ms``, ``prefill_tps``, ``steps``) are read as the registry's, with a warning.

A relative rule fails only when the change is beyond its threshold in the worse direction **and**
significant on the raw per-request samples (Mann–Whitney U via ``bench.results.stats.compare_samples``),
as asv
calls regressions: a threshold alone fails CI on noise; significance alone fails it on a 0.3% change. With
fewer than 3 samples on either side significance cannot be tested: the rule is reported ``untested``
(it does not fail the gate, and the output says why). Percentile rules (``ttft_p95_ms``) compare the
percentiles for the threshold and the whole per-request distributions for significance.

A rule whose metric the run does not have (no cost model, no power sensor, no checked task) is ``no data``:
the gate cannot say the rule holds, so it does not pass, but the problem is the input rather than the
model, so the exit code is 2 (bad input), not 1 (a rule failed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from bench.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, BundleError, UsageError
from bench.report.runs import Run
from bench.report.runs import load_run as load_report_run
from bench.results import stats
from bench.results.comparability import differences, key_properties
from bench.results.identity import run_label as manifest_label
from bench.results.metrics.aggregate import samples
from bench.results.metrics.registry import ALIASES, FIELDS
from bench.results.schema import Record
from bench.userfiles import describe_validation_error, read_toml

__all__ = [
    "RULE_METRICS",
    "AbsoluteRule",
    "GateResult",
    "RelativeRule",
    "RuleOutcome",
    "Rules",
    "comparison_notes",
    "evaluate_absolute",
    "evaluate_gate",
    "evaluate_relative",
    "format_value",
    "load_rules",
    "load_run",
    "metric_value",
    "missing_reason",
    "parse_rules",
    "run_label",
]

Status = Literal["pass", "fail", "no data", "untested"]


# ------------------------------------------------------------------------------- rule → metric
# every registry metric with a direction (a rule needs to know which way is worse)
RULE_METRICS: tuple[str, ...] = tuple(
    name for name, f in FIELDS.items() if f.higher_is_better is not None and f.agg != "label"
)
_OLD_NAMES = {old: new for old, new in ALIASES.items() if new in RULE_METRICS}


def _higher_is_better(metric: str) -> bool:
    direction = FIELDS[metric].higher_is_better
    assert direction is not None, f"{metric} has no direction in the field registry"  # RULE_METRICS has one
    return direction


# ------------------------------------------------------------------------------------- rules
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda v, lim: v >= lim,
    ">": lambda v, lim: v > lim,
    "<=": lambda v, lim: v <= lim,
    "<": lambda v, lim: v < lim,
}
_ABS_RE = re.compile(r"^\s*(>=|<=|>|<|≥|≤)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(%)?\s*$")
_REL_RE = re.compile(r"^\s*([-+])?\s*(\d+\.?\d*|\.\d+)\s*%\s*$")


@dataclass(frozen=True)
class AbsoluteRule:
    """``metric OP limit`` on the run itself (``name``: the registry metric; ``category``: over that
    category's tasks only)."""

    name: str
    op: str
    limit: float
    category: str | None = None

    @property
    def label(self) -> str:
        """How outputs name the rule: ``pass_rate``, or ``pass_rate[simple_python]`` for a category."""
        return self.name if self.category is None else f"{self.name}[{self.category}]"

    @property
    def metric(self) -> str:
        return self.name

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.limit)

    @property
    def limit_text(self) -> str:
        return f"{self.op} {format_value(self.metric, self.limit, exact=True)}"


@dataclass(frozen=True)
class RelativeRule:
    """The run may be at most ``tolerance`` (a fraction) worse than the baseline, in the metric's bad
    direction; ``signed`` is how it reads (``-5%`` for rates, ``+10%`` for latencies and costs)."""

    name: str
    tolerance: float
    category: str | None = None

    @property
    def label(self) -> str:
        return self.name if self.category is None else f"{self.name}[{self.category}]"

    @property
    def metric(self) -> str:
        return self.name

    @property
    def signed(self) -> str:
        return f"{'-' if _higher_is_better(self.metric) else '+'}{self.tolerance * 100:.4g}%"


@dataclass(frozen=True)
class Rules:
    source: str
    absolute: tuple[AbsoluteRule, ...]
    relative: tuple[RelativeRule, ...]
    alpha: float = 0.05
    warnings: tuple[str, ...] = ()  # old metric names read as the registry's (said once per name)


_RuleValue = str | float | None
_TABLE_FIELDS: dict[str, Any] = {name: (_RuleValue, None) for name in (*RULE_METRICS, *_OLD_NAMES)}
_AbsoluteTable = create_model("absolute", __config__=ConfigDict(extra="forbid"), **_TABLE_FIELDS)
_RelativeTable = create_model("relative", __config__=ConfigDict(extra="forbid"), **_TABLE_FIELDS)


class _CategoryRules(BaseModel):
    """``[categories.NAME.absolute]`` / ``[categories.NAME.relative]``: rules over one category."""

    model_config = ConfigDict(extra="forbid")

    absolute: _AbsoluteTable = Field(default_factory=_AbsoluteTable)
    relative: _RelativeTable = Field(default_factory=_RelativeTable)


class _RulesFile(BaseModel):
    """The TOML file as written; values are parsed into rules afterwards (with the registry's directions)."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(default=0.05, gt=0, lt=1)
    absolute: _AbsoluteTable = Field(default_factory=_AbsoluteTable)
    relative: _RelativeTable = Field(default_factory=_RelativeTable)
    categories: dict[str, _CategoryRules] = Field(default_factory=dict)


def _parse_absolute(source: str, written: str, name: str, raw: str | float) -> AbsoluteRule:
    where = f"{source}: absolute.{written}"
    unit = FIELDS[name].unit
    higher = _higher_is_better(name)
    floor_or_cap = ">=" if higher else "<="
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        op, number, percent = floor_or_cap, float(raw), False
    else:
        m = _ABS_RE.match(str(raw))
        if not m:
            raise UsageError(
                f"{where}: cannot read {raw!r}",
                fix=f'write a limit such as "{floor_or_cap} 0.5" (an operator and a number)',
            )
        op = {"≥": ">=", "≤": "<="}.get(m.group(1) or floor_or_cap, m.group(1) or floor_or_cap)
        number, percent = float(m.group(2)), bool(m.group(3))
    if percent:
        if unit != "fraction":
            raise UsageError(f"{where}: '%' only applies to fractions such as pass_rate; give {unit}")
        number /= 100
    if not math.isfinite(number):
        raise UsageError(f"{where}: the limit must be a finite number")
    if (op in (">=", ">")) != higher:
        word, fix_op = ("higher", ">=") if higher else ("lower", "<=")
        raise UsageError(
            f"{where}: {op} points the wrong way: {word} is better for {name} "
            f"(field registry), so its limit is a {'floor' if higher else 'cap'}",
            fix=f'write "{fix_op} {_plain(number)}"',
        )
    return AbsoluteRule(name=name, op=op, limit=number)


def _parse_relative(source: str, written: str, name: str, raw: str | float) -> RelativeRule:
    where = f"{source}: relative.{written}"
    higher = _higher_is_better(name)
    worse = "-" if higher else "+"
    if FIELDS[name].sample is None:
        raise UsageError(
            f"{where}: {name} has no per-request value to test significance on",
            fix="gate it in [absolute], or gate cost_per_task_usd and pass_rate relatively",
        )
    m = _REL_RE.match(str(raw)) if isinstance(raw, str) else None
    if not m:
        raise UsageError(
            f"{where}: cannot read {raw!r}",
            fix=f'write the change it may not exceed as a percentage, e.g. "{worse}5%"',
        )
    sign, number = m.group(1), float(m.group(2))
    if sign is not None and sign != worse:
        word = "drop" if higher else "rise"
        raise UsageError(
            f"{where}: {sign}{m.group(2)}% points the wrong way: for {name} a regression is a "
            f"{word} (field registry)",
            fix=f'write "{worse}{m.group(2)}%"',
        )
    return RelativeRule(name=name, tolerance=number / 100)


def parse_rules(data: dict[str, Any], source: str) -> Rules:
    """Validate a parsed rules file; every problem is one ``UsageError`` line naming file and field."""
    try:
        parsed = _RulesFile.model_validate(data)
    except ValidationError as exc:
        raise UsageError(describe_validation_error(source, exc, data, _RulesFile)) from None
    # in the order the file lists them: the output table follows the file
    notes: dict[str, str] = {}

    def named(table: str, given: Any = None, raw: Any = None) -> list[tuple[str, str, str | float]]:
        """(as written, registry name, value) of a table's rules, old names read as the registry's
        (``given``/``raw``: a category's table, parsed and as written)."""
        given = getattr(parsed, table) if given is None else given
        seen: dict[str, str] = {}
        out: list[tuple[str, str, str | float]] = []
        for written in (data if raw is None else raw).get(table) or {}:
            value = getattr(given, written)
            if value is None:
                continue
            name = _OLD_NAMES.get(written, written)
            if name in seen:
                raise UsageError(
                    f"{source}: {table}.{written} and {table}.{seen[name]} are the same metric ({name})",
                    fix=f"keep one: {name}",
                )
            seen[name] = written
            if written != name:
                notes[written] = (
                    f"{source}: '{written}' is deprecated: it is now '{name}' (the name reports, CSV and "
                    "JSON use); the old name is accepted until the next release"
                )
            out.append((written, name, value))
        return out

    absolute = [_parse_absolute(source, w, n, v) for w, n, v in named("absolute")]
    relative = [_parse_relative(source, w, n, v) for w, n, v in named("relative")]
    for category, tables in parsed.categories.items():  # rules over one category (a benchmark's)
        raw = (data.get("categories") or {}).get(category) or {}
        where = f"{source}: categories.{category}"
        absolute += [
            replace(_parse_absolute(where, w, n, v), category=category)
            for w, n, v in named("absolute", tables.absolute, raw)
        ]
        relative += [
            replace(_parse_relative(where, w, n, v), category=category)
            for w, n, v in named("relative", tables.relative, raw)
        ]
    if not absolute and not relative:
        raise UsageError(
            f"{source}: no rules", fix='add an [absolute] or [relative] table, e.g. pass_rate = ">= 0.5"'
        )
    return Rules(
        source=source,
        absolute=tuple(absolute),
        relative=tuple(relative),
        alpha=parsed.alpha,
        warnings=tuple(notes.values()),
    )


def load_rules(path: str | Path) -> Rules:
    file = Path(path)
    return parse_rules(read_toml(file, UsageError, "gate rules"), str(file))


# -------------------------------------------------------------------------------------- runs
def load_run(ref: str | Path) -> Run:
    """Read, enrich (energy, cost) and summarize a bundle; an incomplete run is refused (exit 2)."""
    run = load_report_run(ref)
    if not run.manifest.complete:
        raise BundleError(
            f"{run.path}: the run did not finish (complete: false); its figures cover only part of the suite",
            fix="gate a complete run",
        )
    return run


def run_label(view: Run) -> str:
    """``model on device``: what a person calls a candidate (``bench.results.identity.run_label``)."""
    return manifest_label(view.manifest)


def missing_reason(metric: str, view: Run) -> str:
    """Why a run has no value for ``metric``, with what to do: shown instead of a verdict."""
    unit = FIELDS[metric].unit
    m = view.manifest
    if unit == "USD":
        gap = m.device.price_gap
        if gap is not None:
            return f"no cost data in this run: {gap}"
        return "no cost data in this run: no request carries a cost"
    if unit == "J":
        if m.power is None:
            return "no energy data in this run: no power sensor was read during it"
        return "no energy data in this run: no request carries an energy reading"
    if metric == "pass_rate":
        return "no checked task in this run (synthetic shapes have no checks)"
    return f"no {FIELDS[metric].label} in this run: no successful request measured it"


def metric_value(metric: str, view: Run, category: str | None = None) -> float | None:
    """The run's value of ``metric`` (``category``: over that category's tasks only)."""
    metrics = view.metrics if category is None else view.category_metrics.get(category, {})
    value = metrics.get(metric)
    if value is None and metric == "cost_per_success_usd" and metrics.get("cost_per_task_usd"):
        return math.inf  # costs were measured but nothing passed: every dollar bought no success
    return None if value is None else float(value)


def _no_category(view: Run, category: str | None) -> str | None:
    """Why a category rule has nothing to judge: the run has no task of that category."""
    if category is None or any(r.category == category for r in view.records):
        return None
    known = ", ".join(dict.fromkeys(r.category for r in view.records)) or "none"
    return f"no task of category {category} in this run (its categories: {known})"


def _in_category(records: Sequence[Record], category: str | None) -> list[Record]:
    return list(records) if category is None else [r for r in records if r.category == category]


# ------------------------------------------------------------------------------------ verdicts
@dataclass(frozen=True)
class RuleOutcome:
    """One rule's verdict, with the figures and a one-line reason."""

    rule: str
    kind: Literal["absolute", "relative"]
    metric: str
    value: float | None
    limit: str
    status: Status
    detail: str
    baseline: float | None = None
    change: float | None = None
    p_value: float | None = None

    @property
    def value_text(self) -> str:
        return format_value(self.metric, self.value)


@dataclass(frozen=True)
class GateResult:
    outcomes: list[RuleOutcome]
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if o.status == "fail"]

    @property
    def no_data(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if o.status == "no data"]

    @property
    def untested(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if o.status == "untested"]

    @property
    def exit_code(self) -> int:
        """2 when a rule could not be evaluated (input), else 1 when one failed, else 0."""
        if self.no_data:
            return EXIT_USAGE
        return EXIT_FAILED if self.failed else EXIT_OK

    @property
    def headline(self) -> str:
        n = len(self.outcomes)
        if self.no_data:
            return f"gate: cannot decide: {len(self.no_data)} of {n} rule(s) have no data"
        if self.failed:
            return f"gate: FAIL: {len(self.failed)} of {n} rule(s) failed"
        extra = f" ({len(self.untested)} untested)" if self.untested else ""
        return f"gate: PASS: {n} rule(s) hold{extra}"


def _plain(x: float) -> str:
    return f"{x:.6g}"


_BARE_UNITS = ("tasks", "tokens", "calls", "USD", "fraction", "")


def format_value(metric: str, value: float | None, *, exact: bool = False) -> str:
    """A value with its unit, formatted by the registry (``exact``: as a user wrote a limit, unrounded)."""
    if value is None:
        return "–"
    f = FIELDS[metric]
    if math.isinf(value):
        return "∞"
    if exact:
        if f.unit == "fraction":
            return f"{value * 100:.4g}%"
        text = f"${_plain(value)}" if f.unit == "USD" else _plain(value)
    else:
        text = f.format(float(value))
    return text if f.unit in _BARE_UNITS else f"{text} {f.unit}"


def evaluate_absolute(rule: AbsoluteRule, view: Run) -> RuleOutcome:
    value = metric_value(rule.metric, view, rule.category)
    base = RuleOutcome(rule.label, "absolute", rule.metric, value, rule.limit_text, "pass", "")
    if value is None:
        why = _no_category(view, rule.category) or missing_reason(rule.metric, view)
        return replace(base, status="no data", detail=why)
    shown = format_value(rule.metric, value)
    if rule.holds(value):
        return replace(base, detail=f"{shown} {rule.limit_text}")
    if math.isinf(value):
        return replace(base, status="fail", detail="no task passed: cost per success is unbounded")
    word = "below" if rule.op in (">=", ">") else "above"
    return replace(base, status="fail", detail=f"{shown} is {word} the limit {rule.limit_text}")


def _p_text(p: float | None) -> str:
    if p is None:
        return "p n/a"
    return f"p={p:.2g}" if p >= 1e-4 else "p<0.0001"


def evaluate_relative(rule: RelativeRule, view: Run, baseline: Run, alpha: float) -> RuleOutcome:
    metric, category = rule.metric, rule.category
    value, base_value = metric_value(metric, view, category), metric_value(metric, baseline, category)
    limit = f"{rule.signed} vs {format_value(metric, base_value)}"
    out = RuleOutcome(rule.label, "relative", metric, value, limit, "pass", "", baseline=base_value)
    if base_value is None:
        why = _no_category(baseline, category) or missing_reason(metric, baseline)
        return replace(out, status="no data", detail="baseline: " + why)
    if value is None:
        return replace(
            out, status="no data", detail=_no_category(view, category) or missing_reason(metric, view)
        )
    higher = _higher_is_better(metric)
    if base_value == 0:
        change = 0.0 if value == 0 else math.copysign(math.inf, value)
    else:
        change = value / base_value - 1
    cmp = stats.compare_samples(
        samples(metric, _in_category(baseline.records, category)),
        samples(metric, _in_category(view.records, category)),
        higher_is_better=higher,
        min_effect=rule.tolerance,
        alpha=alpha,
    )
    worse = change < 0 if higher else change > 0
    beyond = worse and abs(change) > rule.tolerance
    n = f"n={cmp.n_baseline}/{cmp.n_candidate}"
    moved = "no change" if change == 0 else f"{change:+.1%}"
    out = replace(out, change=change, p_value=cmp.p_value)
    if not beyond:
        within = "better" if change != 0 and not worse else f"within {rule.signed}"
        return replace(out, detail=f"{moved}: {within} ({_p_text(cmp.p_value)}, {n})")
    if cmp.p_value is None:
        return replace(
            out,
            status="untested",
            detail=f"{moved} is beyond {rule.signed} but fewer than {stats.MIN_SAMPLES_FOR_SIGNIFICANCE} "
            f"samples per run ({n}): significance not tested (use more repetitions)",
        )
    if cmp.significant:
        return replace(
            out,
            status="fail",
            detail=f"{moved} is beyond {rule.signed} and significant "
            f"(Mann–Whitney {_p_text(cmp.p_value)}, {n})",
        )
    return replace(
        out,
        detail=f"{moved} is beyond {rule.signed} but not significant "
        f"({_p_text(cmp.p_value)} ≥ {alpha}, {n}): noise",
    )


def _short(value: Any) -> str:
    text = str(value)
    if text.startswith("sha256:"):
        return text[:19] + "…"
    return text if len(text) <= 60 else text[:57] + "…"


def comparison_notes(baseline: Run, view: Run) -> list[str]:
    """Refuse runs of different suites (exit 2); describe every other key property that differs."""
    diffs = differences(baseline.manifest, view.manifest)
    kb, kv = key_properties(baseline.manifest), key_properties(view.manifest)
    if "suite_hash" in diffs:
        name_b = baseline.manifest.suite.name
        name_v = view.manifest.suite.name
        raise UsageError(
            f"{view.path} ran suite {name_v} ({str(kv['suite_hash'])[:12]}) but the baseline "
            f"{baseline.path} ran {name_b} ({str(kb['suite_hash'])[:12]}): "
            "different tasks cannot be compared",
            fix="re-record the baseline with this suite",
        )
    notes = []
    for key in diffs:
        if key == "backend_settings":
            sb, sv = kb[key] or {}, kv[key] or {}
            changed = [f"{k} {sb.get(k)} → {sv.get(k)}" for k in sorted({*sb, *sv}) if sb.get(k) != sv.get(k)]
            notes.append("differs from the baseline in backend settings: " + ", ".join(changed))
        elif key == "model":
            fb, fv = baseline.manifest.model, view.manifest.model
            was = f"{fb.file_name or '?'} ({_short(kb[key])})" if fb else _short(kb[key])
            now = f"{fv.file_name or '?'} ({_short(kv[key])})" if fv else _short(kv[key])
            notes.append(f"differs from the baseline in model: {was} → {now}")
        else:
            notes.append(f"differs from the baseline in {key}: {_short(kb[key])} → {_short(kv[key])}")
    return notes


def evaluate_gate(rules: Rules, view: Run, baseline: Run | None = None) -> GateResult:
    """Every rule's verdict on ``view`` (and against ``baseline`` for relative rules)."""
    if rules.relative and baseline is None:
        names = ", ".join(r.name for r in rules.relative)
        raise UsageError(
            f"{rules.source}: [relative] rules ({names}) need a baseline", fix="give --baseline RUN"
        )
    notes = comparison_notes(baseline, view) if baseline is not None else []
    outcomes = [evaluate_absolute(r, view) for r in rules.absolute]
    if baseline is not None:
        outcomes += [evaluate_relative(r, view, baseline, rules.alpha) for r in rules.relative]
    return GateResult(outcomes=outcomes, notes=notes)
