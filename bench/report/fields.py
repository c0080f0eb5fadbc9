"""The field registry: every summary metric declared once (name, label, unit, direction, meaning).

The terminal table, ``--json``, Markdown/HTML reports, CSV exports and the CI gate's notion of "better"
all read this list, so a metric cannot mean one thing in a table and another in a gate (llama-bench's
compare script, which copied its field list by hand, drifted; we don't).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

__all__ = [
    "COMPARE_FIELDS", "ENERGY_COLUMNS", "FIELDS", "INTERVALS", "OPTIONAL_COLUMNS", "SUMMARY_COLUMNS", "Field", "field",
]  # fmt: skip


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    unit: str
    higher_is_better: bool | None  # None: not a quality direction (counts, tokens, spreads)
    description: str
    fmt: str = "{:.1f}"
    # the Record attribute whose raw per-request values this metric summarizes (``compare`` tests those)
    sample: str | None = None

    @property
    def words(self) -> tuple[str, str]:
        """How a change reads in the good and the bad direction ("1.31x faster", "1.20x costlier")."""
        return _WORDS.get(self.unit, ("better", "worse"))

    def format(self, value: object) -> str:
        """The value as tables show it; None and NaN (absent, e.g. from a pandas frame) read "–"."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and self.fmt:
            if self.fmt.startswith("sig:"):
                return _significant(float(value), int(self.fmt[4:]))
            if self.fmt.endswith("d}"):
                return self.fmt.format(round(value))
            return self.fmt.format(float(value))
        return str(value)


def _significant(value: float, digits: int) -> str:
    """``digits`` significant digits in plain decimals: 0.00000819, 0.000106, 15.9 (costs span 1e-8..1e2)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


# fmt: off
_TABLE: list[tuple[str, str, str, bool | None, str, str]] = [
    # name                      label            unit        better  description                                             format
    ("n",                       "n",             "requests", None,  "measured requests (warmups excluded)",                  "{:d}"),
    ("errors",                  "errors",        "requests", False, "requests that ended in error, timeout or cancel",       "{:d}"),
    ("passed",                  "passed",        "requests", None,  "measured requests whose check passed",                  "{:d}"),
    ("checked",                 "checked",       "requests", None,  "measured requests judged by a check (errors count as failed)", "{:d}"),
    ("pass_rate",               "pass",          "fraction", True,  "passed / checked requests (errors count as failed)",    "{:.0%}"),
    ("pass_rate_ci_low",        "pass lo",       "fraction", None,  "95% Wilson interval of the pass rate, lower end",       "{:.0%}"),
    ("pass_rate_ci_high",       "pass hi",       "fraction", None,  "95% Wilson interval of the pass rate, upper end",       "{:.0%}"),
    ("ttft_p50_ms",             "TTFT p50",      "ms",       False, "median time to first content token",                    "{:.1f}"),
    ("ttft_p95_ms",             "TTFT p95",      "ms",       False, "95th percentile time to first content token",           "{:.1f}"),
    ("ttft_mean_ms",            "TTFT mean",     "ms",       False, "mean time to first content token",                      "{:.1f}"),
    ("e2e_mean_ms",             "e2e mean",      "ms",       False, "mean request latency (dispatch to stream end)",         "{:.1f}"),
    ("e2e_p50_ms",              "e2e p50",       "ms",       False, "median request latency (dispatch to stream end)",       "{:.1f}"),
    ("e2e_p95_ms",              "e2e p95",       "ms",       False, "95th percentile request latency",                       "{:.1f}"),
    ("itl_p50_ms",              "ITL p50",       "ms",       False, "median gap between content tokens",                     "{:.2f}"),
    ("tpot_mean_ms",            "TPOT",          "ms",       False, "mean time per output token after the first",            "{:.2f}"),
    ("decode_tps_mean",         "decode tok/s",  "tok/s",    True,  "mean decode rate (first token excluded)",               "{:.1f}"),
    ("decode_tps_sd",           "± sd",          "tok/s",    None,  "sample standard deviation of the decode rate",          "{:.1f}"),
    ("decode_tps_ci_low",       "decode lo",     "tok/s",    None,  "95% CI of the mean decode rate, low (expanded bootstrap; Student-t if n<10 or n>2,000)",  "{:.1f}"),
    ("decode_tps_ci_high",      "decode hi",     "tok/s",    None,  "95% CI of the mean decode rate, high (expanded bootstrap; Student-t if n<10 or n>2,000)", "{:.1f}"),
    ("prefill_tps_mean",        "prefill tok/s", "tok/s",    True,  "mean prompt_tokens / ttft",                             "{:.1f}"),
    ("prompt_tokens_mean",      "prompt tok",    "tokens",   None,  "mean prompt tokens per request",                        "{:.0f}"),
    ("completion_tokens_mean",  "out tok",       "tokens",   None,  "mean completion tokens per request",                    "{:.0f}"),
    ("completion_tokens_total", "out tok Σ",     "tokens",   None,  "completion tokens over measured requests",              "{:d}"),
    ("cost_per_task_usd",       "$/task",        "USD",      False, "mean cost of one request (one attempt at a task)",      "sig:3"),
    ("cost_per_success_usd",    "$/success",     "USD",      False, "total cost / passed tasks (an agent task: all its calls and tool time)", "sig:3"),
    ("usd_per_mtok_out",        "$/1M out",      "USD",      False, "total cost per million completion tokens",              "sig:3"),
    ("energy_per_task_j",       "J/task",        "J",        False, "mean gross energy of one request",                      "{:.2f}"),
    ("energy_per_success_j",    "J/success",     "J",        False, "total gross energy / passed tasks (an agent task: all its calls)", "{:.2f}"),
    ("j_per_token",             "J/tok",         "J",        False, "total gross energy / completion tokens",                "{:.3f}"),
    ("cost_total_usd",          "$ total",       "USD",      False, "total cost of the measured requests",                   "sig:3"),
    ("cost_energy_per_task_usd", "energy $/task", "USD",     False, "mean electricity cost of one request, at the wall",     "sig:3"),
    ("cost_hardware_per_task_usd", "hw $/task",  "USD",      False, "mean hardware amortization carried by one request",     "sig:3"),
    ("cost_api_per_task_usd",   "API $/task",    "USD",      False, "mean API cost of one request (tokens × list prices, or subscription share)", "sig:3"),
    ("cost_basis",              "basis",         "",         None,  "what the cost rests on: measured or estimated energy, tokens, subscription, hardware only", ""),
    ("energy_net_per_task_j",   "J/task net",    "J",        False, "mean energy of one request minus the idle baseline",    "{:.2f}"),
    ("avg_power_w",             "avg W",         "W",        None,  "mean power while requests ran (energy / their time)",   "{:.1f}"),
    ("roofline_fraction",       "roofline",      "fraction", True,  "mean decode rate / memory-bandwidth bound (GB/s ÷ model bytes)", "{:.0%}"),
    ("window_s",                "window",        "s",        None,  "first measured dispatch to last measured stream end",   "{:.2f}"),
    ("request_throughput_rps",  "req/s",         "req/s",    True,  "successful requests per second of the measured window", "{:.2f}"),
    ("output_tps_total",        "out tok/s Σ",   "tok/s",    True,  "completion tokens of all streams per second of window", "{:.1f}"),
    ("goodput_rps",             "goodput",       "req/s",    True,  "requests meeting every --slo-* objective, per second",  "{:.2f}"),
    ("slo_attainment",          "SLO met",       "fraction", True,  "share of measured requests meeting every objective",    "{:.0%}"),
    # agent tasks (docs/agents.md), from the per-task summary records only
    ("steps_mean",              "steps",         "calls",    False, "mean model calls per agent task",                       "{:.1f}"),
    ("tool_calls_mean",         "tool calls",    "calls",    None,  "mean tool calls per agent task",                        "{:.1f}"),
    ("tool_errors_total",       "tool errors",   "calls",    None,  "tool calls that returned an error (unknown tool, bad arguments, failure)", "{:d}"),
    ("model_seconds_share",     "model time",    "fraction", None,  "Σ model time (dispatch to stream end per call) / Σ agent task wall time", "{:.0%}"),
    ("tool_seconds_share",      "tool time",     "fraction", False, "Σ tool wall time / Σ agent task wall time",             "{:.0%}"),
    ("harness_seconds_share",   "harness time",  "fraction", False, "Σ (wall − model − tool) / Σ agent task wall time",      "{:.1%}"),
    ("tool_cpu_s_mean",         "tool CPU s",    "s",        None,  "mean tool CPU-seconds (children's rusage) per agent task", "{:.3f}"),
    ("cached_input_share",      "cached in",     "fraction", True,  "Σ cached input tokens / Σ input tokens over agent tasks", "{:.0%}"),
    ("input_fresh_tokens_mean", "fresh in tok",  "tokens",   None,  "mean input tokens not served from a cache, per agent task", "{:.0f}"),
    ("cached_tokens_mean",      "cached in tok", "tokens",   None,  "mean input tokens served from the prefix cache, per agent task", "{:.0f}"),
    ("agent_wall_mean_s",       "task wall",     "s",        False, "mean wall time of one agent task",                      "{:.2f}"),
]
# fmt: on

# the per-request sample behind each metric that two runs can be compared on (Mann–Whitney on these)
_SAMPLES = {
    "pass_rate": "passed", "ttft_mean_ms": "ttft_ms", "e2e_mean_ms": "e2e_ms", "tpot_mean_ms": "tpot_ms",
    "decode_tps_mean": "decode_tps", "prefill_tps_mean": "prefill_tps", "cost_per_task_usd": "cost_usd",
    "energy_per_task_j": "energy_j", "completion_tokens_mean": "completion_tokens",
}  # fmt: skip
_WORDS = {
    "ms": ("faster", "slower"), "tok/s": ("faster", "slower"), "USD": ("cheaper", "costlier"),
    "J": ("less energy", "more energy"), "fraction": ("better", "worse"),
}  # fmt: skip

FIELDS: dict[str, Field] = {row[0]: Field(*row, sample=_SAMPLES.get(row[0])) for row in _TABLE}

# metric → the fields holding its 95% interval (tables show "value [low–high]")
INTERVALS = {
    "pass_rate": ("pass_rate_ci_low", "pass_rate_ci_high"),
    "decode_tps_mean": ("decode_tps_ci_low", "decode_tps_ci_high"),
}

# what ``compare`` tests, in this order
COMPARE_FIELDS = [f for f in FIELDS.values() if f.sample is not None]

# The columns of the after-run table, in order (hyperfine/llama-bench keep theirs short; so do we).
SUMMARY_COLUMNS = [
    "n", "pass_rate", "ttft_p50_ms", "ttft_p95_ms", "decode_tps_mean", "decode_tps_sd",
    "e2e_p50_ms", "e2e_p95_ms", "prompt_tokens_mean", "completion_tokens_mean",
    "energy_per_task_j", "j_per_token", "avg_power_w", "errors",
]  # fmt: skip

# Shown only when some row has a value (no power sensor: no energy columns); energy values from a model
# rather than a sensor are marked "~" in the table (ENERGY_COLUMNS).
OPTIONAL_COLUMNS = frozenset({"energy_per_task_j", "j_per_token", "avg_power_w"})
ENERGY_COLUMNS = frozenset(
    {"energy_per_task_j", "energy_per_success_j", "j_per_token", "avg_power_w", "energy_net_per_task_j"}
)


def field(name: str) -> Field:
    return FIELDS[name]
