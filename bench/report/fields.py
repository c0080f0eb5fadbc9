"""The field registry: every summary metric declared once (name, label, unit, direction, meaning).

The terminal table, ``--json``, Markdown/HTML reports, CSV exports and the CI gate's notion of "better"
all read this list, so a metric cannot mean one thing in a table and another in a gate (llama-bench's
compare script, which copied its field list by hand, drifted; we don't).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FIELDS", "SUMMARY_COLUMNS", "Field", "field"]


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    unit: str
    higher_is_better: bool | None  # None: not a quality direction (counts, tokens, spreads)
    description: str
    fmt: str = "{:.1f}"

    def format(self, value: object) -> str:
        if value is None:
            return "–"
        if isinstance(value, float) and self.fmt:
            return self.fmt.format(value)
        return str(value)


# fmt: off
_TABLE: list[tuple[str, str, str, bool | None, str, str]] = [
    # name                      label            unit        better  description                                             format
    ("n",                       "n",             "requests", None,  "measured requests (warmups excluded)",                  "{:d}"),
    ("errors",                  "errors",        "requests", False, "requests that ended in error, timeout or cancel",       "{:d}"),
    ("pass_rate",               "pass",          "fraction", True,  "passed / checked requests (errors count as failed)",    "{:.0%}"),
    ("pass_rate_ci_low",        "pass lo",       "fraction", None,  "95% Wilson interval of the pass rate, lower end",       "{:.0%}"),
    ("pass_rate_ci_high",       "pass hi",       "fraction", None,  "95% Wilson interval of the pass rate, upper end",       "{:.0%}"),
    ("ttft_p50_ms",             "TTFT p50",      "ms",       False, "median time to first content token",                    "{:.1f}"),
    ("ttft_p95_ms",             "TTFT p95",      "ms",       False, "95th percentile time to first content token",           "{:.1f}"),
    ("e2e_p50_ms",              "e2e p50",       "ms",       False, "median request latency (dispatch to stream end)",       "{:.1f}"),
    ("e2e_p95_ms",              "e2e p95",       "ms",       False, "95th percentile request latency",                       "{:.1f}"),
    ("itl_p50_ms",              "ITL p50",       "ms",       False, "median gap between content tokens",                     "{:.2f}"),
    ("tpot_mean_ms",            "TPOT",          "ms",       False, "mean time per output token after the first",            "{:.2f}"),
    ("decode_tps_mean",         "decode tok/s",  "tok/s",    True,  "mean decode rate (first token excluded)",               "{:.1f}"),
    ("decode_tps_sd",           "± sd",          "tok/s",    None,  "sample standard deviation of the decode rate",          "{:.1f}"),
    ("decode_tps_ci_low",       "decode lo",     "tok/s",    None,  "95% bootstrap interval of the mean decode rate, low",   "{:.1f}"),
    ("decode_tps_ci_high",      "decode hi",     "tok/s",    None,  "95% bootstrap interval of the mean decode rate, high",  "{:.1f}"),
    ("prefill_tps_mean",        "prefill tok/s", "tok/s",    True,  "mean prompt_tokens / ttft",                             "{:.1f}"),
    ("prompt_tokens_mean",      "prompt tok",    "tokens",   None,  "mean prompt tokens per request",                        "{:.0f}"),
    ("completion_tokens_mean",  "out tok",       "tokens",   None,  "mean completion tokens per request",                    "{:.0f}"),
    ("completion_tokens_total", "out tok Σ",     "tokens",   None,  "completion tokens over measured requests",              "{:d}"),
    ("cost_per_task_usd",       "$/task",        "USD",      False, "mean cost of one request (one attempt at a task)",      "{:.6f}"),
    ("cost_per_success_usd",    "$/success",     "USD",      False, "total cost / passed requests",                          "{:.6f}"),
    ("usd_per_mtok_out",        "$/1M out",      "USD",      False, "total cost per million completion tokens",              "{:.4f}"),
    ("energy_per_task_j",       "J/task",        "J",        False, "mean gross energy of one request",                      "{:.2f}"),
    ("j_per_token",             "J/tok",         "J",        False, "total gross energy / completion tokens",                "{:.3f}"),
    ("window_s",                "window",        "s",        None,  "first measured dispatch to last measured stream end",   "{:.2f}"),
    ("request_throughput_rps",  "req/s",         "req/s",    True,  "successful requests per second of the measured window", "{:.2f}"),
    ("output_tps_total",        "out tok/s Σ",   "tok/s",    True,  "completion tokens of all streams per second of window", "{:.1f}"),
    ("goodput_rps",             "goodput",       "req/s",    True,  "requests meeting every --slo-* objective, per second",  "{:.2f}"),
    ("slo_attainment",          "SLO met",       "fraction", True,  "share of measured requests meeting every objective",    "{:.0%}"),
]
# fmt: on

FIELDS: dict[str, Field] = {row[0]: Field(*row) for row in _TABLE}

# The columns of the after-run table, in order (hyperfine/llama-bench keep theirs short; so do we).
SUMMARY_COLUMNS = [
    "n", "pass_rate", "ttft_p50_ms", "ttft_p95_ms", "decode_tps_mean", "decode_tps_sd",
    "e2e_p50_ms", "e2e_p95_ms", "prompt_tokens_mean", "completion_tokens_mean", "errors",
]  # fmt: skip


def field(name: str) -> Field:
    return FIELDS[name]
