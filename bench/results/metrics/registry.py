"""The field registry: every summary metric declared once (name, label, unit, direction, how it is
aggregated, over which records, what it means, how it is shown).

The run summary, every report format, ``compare``, gate rules, ``choose``, history, the database summary,
the sweep table and break-even read this table, so a metric cannot mean one thing in a table and another
in a gate (llama-bench's compare script, which copied its field list by hand, drifted; we don't).

- ``agg``: how the figure is made from its records: ``mean``, ``p50``/``p95`` (linear interpolation, as
  numpy and SQL's ``percentile_cont``), ``count``, ``sum``, ``max``, ``rate`` (the mean of a yes/no), or
  ``ratio`` (a ratio of sums; no per-record value, so ``compare`` and relative gate rules cannot test it).
- ``sample``: the record attribute behind it (what ``compare`` and relative gate rules test with
  Mann–Whitney, and what history plots); ``population``: which records (``bench.results.metrics.policy``).
- Names are the one vocabulary: ``decode_tps_mean`` in the report's JSON, a gate rule and ``history
  --metric`` alike. ``ALIASES`` keeps the older names (``decode_tps``, ``ttft_ms``, ...) working, with a
  deprecation warning, for one release (``canonical``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bench.results.metrics.display import ESTIMATE_MARK, significant, usd

__all__ = [
    "ALIASES",
    "COMPARE_FIELDS",
    "FIELDS",
    "INTERVALS",
    "Agg",
    "Field",
    "canonical",
    "field",
    "fields_json",
]

Agg = Literal["mean", "p50", "p95", "count", "sum", "max", "rate", "ratio", "label"]


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    unit: str
    higher_is_better: bool | None  # None: not a quality direction (counts, tokens, spreads)
    agg: Agg
    sample: str | None  # the Record attribute summarised (None: a ratio of sums, a label)
    population: str  # a policy.POPULATIONS name: which measured records count
    description: str
    fmt: str = "{:.1f}"  # "usd": dollars (display.usd); "sig:N": N significant digits

    @property
    def words(self) -> tuple[str, str]:
        """How a change reads in the good and the bad direction ("1.31x faster", "1.20x costlier")."""
        return _WORDS.get(self.unit, ("better", "worse"))

    @property
    def header(self) -> str:
        """The label with its unit where the label does not carry one ("TTFT p50 ms", "$/task")."""
        return self.label + (" ms" if self.unit == "ms" else "")

    def as_json(self) -> dict[str, object]:
        """What a JSON reader needs to interpret the column (every ``--json`` output carries it)."""
        return {
            "label": self.label,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "description": self.description,
        }

    @property
    def energy_backed(self) -> bool:
        """Its value carries an energy figure (a local cost includes energy): an estimated energy makes
        it an estimate, marked ``≈`` wherever it is shown."""
        return self.name in _ENERGY_BACKED

    def format(self, value: object, *, estimated: bool = False) -> str:
        """The value as every view shows it; None and NaN (absent) read "–"; ``estimated``: marked ≈
        when this field carries an energy estimate."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            if isinstance(value, float) and math.isinf(value):
                text = "∞" if value > 0 else "-∞"
            elif self.fmt == "usd":
                text = usd(float(value))
            elif self.fmt.startswith("sig:"):
                text = significant(float(value), int(self.fmt[4:]))
            elif self.fmt.endswith("d}"):
                text = self.fmt.format(round(value))
            else:
                text = self.fmt.format(float(value))
        else:
            text = str(value)
        return ESTIMATE_MARK + text if estimated and self.energy_backed else text

    def shown(self, value: float | None) -> float | None:
        """The value rounded as it is displayed (read back as a number): two values shown alike are equal
        for ``choose``'s ties and the cross-view checks."""
        if value is None or not math.isfinite(value):
            return value
        text = self.format(value).replace("$", "").replace(",", "").replace("≈", "")
        scale = 100.0 if text.endswith("%") else 1.0
        try:
            return float(text.rstrip("%")) / scale
        except ValueError:
            return value


# fmt: off
_TABLE: list[tuple[str, str, str, bool | None, Agg, str | None, str, str, str]] = [
    # name                      label            unit        better agg      sample                population   description                                                  format
    ("n",                       "n",             "tasks",    None,  "count", None,                 "attempts",  "measured attempts at a task (warm-ups excluded; an agent task once)", "{:d}"),
    ("errors",                  "errors",        "tasks",    False, "count", "errored",            "attempts",  "attempts that ended in error, timeout or cancel",          "{:d}"),
    ("passed",                  "passed",        "tasks",    None,  "count", None,                 "attempts",  "measured attempts whose check passed",                     "{:d}"),
    ("checked",                 "checked",       "tasks",    None,  "count", None,                 "attempts",  "measured attempts judged by a check (errors count as failed)", "{:d}"),
    ("pass_rate",               "pass",          "fraction", True,  "rate",  "passed",             "attempts",  "passed / checked attempts (errors count as failed)",       "{:.0%}"),
    ("pass_rate_ci_low",        "pass lo",       "fraction", None,  "ratio", None,                 "attempts",  "95% Wilson interval of the pass rate, lower end",          "{:.0%}"),
    ("pass_rate_ci_high",       "pass hi",       "fraction", None,  "ratio", None,                 "attempts",  "95% Wilson interval of the pass rate, upper end",          "{:.0%}"),
    ("ttft_p50_ms",             "TTFT p50",      "ms",       False, "p50",   "ttft_ms",            "timed",     "median time to first content token",                       "{:.1f}"),
    ("ttft_p95_ms",             "TTFT p95",      "ms",       False, "p95",   "ttft_ms",            "timed",     "95th percentile time to first content token",              "{:.1f}"),
    ("ttft_mean_ms",            "TTFT mean",     "ms",       False, "mean",  "ttft_ms",            "timed",     "mean time to first content token",                         "{:.1f}"),
    ("e2e_mean_ms",             "e2e mean",      "ms",       False, "mean",  "e2e_ms",             "timed",     "mean request latency (dispatch to stream end)",            "{:.1f}"),
    ("e2e_p50_ms",              "e2e p50",       "ms",       False, "p50",   "e2e_ms",             "timed",     "median request latency (dispatch to stream end)",          "{:.1f}"),
    ("e2e_p95_ms",              "e2e p95",       "ms",       False, "p95",   "e2e_ms",             "timed",     "95th percentile request latency",                          "{:.1f}"),
    ("itl_p50_ms",              "ITL p50",       "ms",       False, "p50",   None,                 "timed",     "median gap between content tokens",                        "{:.2f}"),
    ("tpot_mean_ms",            "TPOT",          "ms",       False, "mean",  "tpot_ms",            "timed",     "mean time per output token after the first",               "{:.2f}"),
    ("decode_tps_mean",         "decode tok/s",  "tok/s",    True,  "mean",  "decode_tps",         "timed",     "mean decode rate (first token excluded)",                  "{:.1f}"),
    ("decode_tps_sd",           "± sd",          "tok/s",    None,  "ratio", None,                 "timed",     "sample standard deviation of the decode rate",             "{:.1f}"),
    ("decode_tps_ci_low",       "decode lo",     "tok/s",    None,  "ratio", None,                 "timed",     "95% CI of the mean decode rate, low (expanded bootstrap; Student-t if n<10 or n>2,000)",  "{:.1f}"),
    ("decode_tps_ci_high",      "decode hi",     "tok/s",    None,  "ratio", None,                 "timed",     "95% CI of the mean decode rate, high (expanded bootstrap; Student-t if n<10 or n>2,000)", "{:.1f}"),
    ("prefill_tps_mean",        "prefill tok/s", "tok/s",    True,  "mean",  "prefill_tps",        "timed",     "mean prompt_tokens / ttft",                                "{:.1f}"),
    ("prompt_tokens_mean",      "prompt tok",    "tokens",   None,  "mean",  "prompt_tokens",      "timed",     "mean prompt tokens per request",                           "{:.0f}"),
    ("completion_tokens_mean",  "out tok",       "tokens",   None,  "mean",  "completion_tokens",  "timed",     "mean completion tokens per request",                       "{:.0f}"),
    ("completion_tokens_total", "out tok Σ",     "tokens",   None,  "sum",   "completion_tokens",  "timed",     "completion tokens over measured requests",                 "{:d}"),
    ("cost_per_task_usd",       "$/task",        "USD",      False, "mean",  "cost_usd",           "attempts",  "mean cost of one attempt at a task (an agent task: all its calls and tool time)", "usd"),
    ("cost_per_success_usd",    "$/success",     "USD",      False, "ratio", None,                 "attempts",  "total cost / passed attempts",                             "usd"),
    ("usd_per_mtok_out",        "$/1M out",      "USD",      False, "ratio", None,                 "attempts",  "total cost per million completion tokens",                 "usd"),
    ("energy_per_task_j",       "J/task",        "J",        False, "mean",  "energy_j",           "attempts",  "mean gross energy of one attempt at a task",               "{:.2f}"),
    ("energy_per_success_j",    "J/success",     "J",        False, "ratio", None,                 "attempts",  "total gross energy / passed attempts (public benchmarks: per category)", "{:.2f}"),
    ("j_per_token",             "J/tok",         "J",        False, "ratio", None,                 "attempts",  "total gross energy / completion tokens",                   "{:.3f}"),
    ("cost_total_usd",          "$ total",       "USD",      False, "sum",   "cost_usd",           "attempts",  "total cost of the measured attempts",                      "usd"),
    ("cost_energy_per_task_usd", "energy $/task", "USD",     False, "mean",  "cost_energy_usd",    "attempts",  "mean electricity cost of one attempt, at the wall",        "usd"),
    ("cost_hardware_per_task_usd", "hw $/task",  "USD",      False, "mean",  "cost_hardware_usd",  "attempts",  "mean hardware amortization carried by one attempt",        "usd"),
    ("cost_api_per_task_usd",   "API $/task",    "USD",      False, "mean",  "cost_api_usd",       "attempts",  "mean API cost of one attempt (tokens × list prices, or subscription share)", "usd"),
    ("cost_basis",              "basis",         "",         None,  "label", None,                 "attempts",  "what the cost rests on: measured or estimated energy, tokens, subscription, hardware only", ""),
    ("energy_net_per_task_j",   "J/task net",    "J",        False, "mean",  "energy_net_j",       "attempts",  "mean energy of one attempt minus the idle baseline",       "{:.2f}"),
    ("avg_power_w",             "avg W",         "W",        None,  "ratio", "avg_power_w",        "attempts",  "mean power while requests ran (energy / their time)",      "{:.1f}"),
    ("peak_rss_mb",             "peak RSS",      "MB",       False, "max",   "peak_rss_mb",        "measured",  "largest resident memory of the harness process seen in a measured record", "{:.1f}"),
    ("roofline_fraction",       "roofline",      "fraction", True,  "ratio", None,                 "timed",     "mean decode rate / memory-bandwidth bound (GB/s ÷ model bytes)", "{:.0%}"),
    ("window_s",                "window",        "s",        None,  "ratio", None,                 "requests",  "first measured dispatch to last measured stream end",      "{:.2f}"),
    ("request_throughput_rps",  "req/s",         "req/s",    True,  "ratio", None,                 "requests",  "successful requests per second of the measured window",   "{:.2f}"),
    ("output_tps_total",        "out tok/s Σ",   "tok/s",    True,  "ratio", None,                 "requests",  "completion tokens of all streams per second of window",   "{:.1f}"),
    ("goodput_rps",             "goodput",       "req/s",    True,  "ratio", None,                 "requests",  "requests meeting every --slo-* objective, per second",    "{:.2f}"),
    ("slo_attainment",          "SLO met",       "fraction", True,  "ratio", None,                 "requests",  "share of measured requests meeting every objective",      "{:.0%}"),
    # agent tasks (docs/agents.md), from the per-task summary records only
    ("steps_mean",              "steps",         "calls",    False, "mean",  "steps",              "attempts",  "mean model calls per agent task",                          "{:.1f}"),
    ("tool_calls_mean",         "tool calls",    "calls",    None,  "mean",  "tool_calls",         "attempts",  "mean tool calls per agent task",                           "{:.1f}"),
    ("tool_errors_total",       "tool errors",   "calls",    None,  "sum",   "tool_errors",        "attempts",  "tool calls that returned an error (unknown tool, bad arguments, failure)", "{:d}"),
    ("model_seconds_share",     "model time",    "fraction", None,  "ratio", None,                 "attempts",  "Σ model time (dispatch to stream end per call) / Σ agent task wall time", "{:.0%}"),
    ("tool_seconds_share",      "tool time",     "fraction", False, "ratio", None,                 "attempts",  "Σ tool wall time / Σ agent task wall time",                "{:.0%}"),
    ("harness_seconds_share",   "harness time",  "fraction", False, "ratio", None,                 "attempts",  "Σ (wall − model − tool) / Σ agent task wall time",         "{:.1%}"),
    ("tool_cpu_s_mean",         "tool CPU s",    "s",        None,  "mean",  "tool_cpu_s",         "attempts",  "mean tool CPU-seconds (children's rusage) per agent task", "{:.3f}"),
    ("cached_input_share",      "cached in",     "fraction", True,  "ratio", None,                 "attempts",  "Σ cached input tokens / Σ input tokens over agent tasks", "{:.0%}"),
    ("input_fresh_tokens_mean", "fresh in tok",  "tokens",   None,  "mean",  "input_fresh_tokens", "attempts",  "mean input tokens not served from a cache, per agent task", "{:.0f}"),
    ("cached_tokens_mean",      "cached in tok", "tokens",   None,  "mean",  "cached_tokens",      "attempts",  "mean input tokens served from the prefix cache, per agent task", "{:.0f}"),
    ("agent_wall_mean_s",       "task wall",     "s",        False, "mean",  "wall_s",             "attempts",  "mean wall time of one agent task",                         "{:.2f}"),
]
# fmt: on

_WORDS = {
    "ms": ("faster", "slower"), "tok/s": ("faster", "slower"), "USD": ("cheaper", "costlier"),
    "J": ("less energy", "more energy"), "fraction": ("better", "worse"), "MB": ("leaner", "hungrier"),
}  # fmt: skip
# a local cost includes the energy cost: an estimated energy makes these estimates too
_ENERGY_BACKED = frozenset({
    "energy_per_task_j", "energy_per_success_j", "j_per_token", "avg_power_w", "energy_net_per_task_j", "cost_per_task_usd",
    "cost_per_success_usd", "usd_per_mtok_out", "cost_total_usd", "cost_energy_per_task_usd",
})  # fmt: skip

FIELDS: dict[str, Field] = {row[0]: Field(*row) for row in _TABLE}

# metric → the fields holding its 95% interval (tables show "value (low–high)")
INTERVALS = {
    "pass_rate": ("pass_rate_ci_low", "pass_rate_ci_high"),
    "decode_tps_mean": ("decode_tps_ci_low", "decode_tps_ci_high"),
}

# what ``compare`` tests on per-request samples, in this order: each sample once, by its mean or rate
COMPARE_FIELDS = [f for f in FIELDS.values() if f.sample is not None and f.agg in ("mean", "rate")]

# Names earlier releases used in gate rules and ``history --metric``: accepted, with a warning, until the
# next release. Each maps to the registry name of the same figure.
ALIASES: dict[str, str] = {
    "decode_tps": "decode_tps_mean",
    "prefill_tps": "prefill_tps_mean",
    "tpot_ms": "tpot_mean_ms",
    "ttft_ms": "ttft_mean_ms",
    "e2e_ms": "e2e_mean_ms",
    "completion_tokens": "completion_tokens_mean",
    "energy_j": "energy_per_task_j",
    "cost_usd": "cost_per_task_usd",
    "steps": "steps_mean",
}


def canonical(name: str) -> tuple[str, str | None]:
    """``name`` in the registry's vocabulary, and a deprecation warning when it was an older name."""
    if name in ALIASES:
        new = ALIASES[name]
        return new, (
            f"'{name}' is deprecated: it is now '{new}' (the name reports, CSV and JSON use); "
            "the old name is accepted until the next release"
        )
    return name, None


def field(name: str) -> Field:
    return FIELDS[name]


def fields_json(names: Iterable[str]) -> dict[str, dict[str, object]]:
    """The registry entries of ``names`` (those that are registry fields) for a JSON document."""
    return {name: FIELDS[name].as_json() for name in names if name in FIELDS}
