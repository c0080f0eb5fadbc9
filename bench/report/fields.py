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
    higher_is_better: bool | None  # None: not a quality direction (counts, tokens)
    description: str
    fmt: str = "{:.1f}"

    def format(self, value: object) -> str:
        if value is None:
            return "–"
        if isinstance(value, float) and self.fmt:
            return self.fmt.format(value)
        return str(value)


FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        Field("n", "n", "requests", None, "measured requests (warmups excluded)", "{:d}"),
        Field(
            "errors", "errors", "requests", False, "requests that ended in error, timeout or cancel", "{:d}"
        ),
        Field(
            "pass_rate",
            "pass",
            "fraction",
            True,
            "passed / checked requests (errors count as failed)",
            "{:.0%}",
        ),
        Field("ttft_p50_ms", "TTFT p50", "ms", False, "median time to first content token", "{:.1f}"),
        Field(
            "ttft_p95_ms", "TTFT p95", "ms", False, "95th percentile time to first content token", "{:.1f}"
        ),
        Field(
            "e2e_p50_ms", "e2e p50", "ms", False, "median request latency (dispatch to stream end)", "{:.1f}"
        ),
        Field("e2e_p95_ms", "e2e p95", "ms", False, "95th percentile request latency", "{:.1f}"),
        Field("tpot_mean_ms", "TPOT", "ms", False, "mean time per output token after the first", "{:.2f}"),
        Field(
            "decode_tps_mean",
            "decode tok/s",
            "tok/s",
            True,
            "mean decode rate (first token excluded)",
            "{:.1f}",
        ),
        Field(
            "decode_tps_sd", "± sd", "tok/s", None, "sample standard deviation of the decode rate", "{:.1f}"
        ),
        Field("prefill_tps_mean", "prefill tok/s", "tok/s", True, "mean prompt_tokens / ttft", "{:.1f}"),
        Field("prompt_tokens_mean", "prompt tok", "tokens", None, "mean prompt tokens per request", "{:.0f}"),
        Field(
            "completion_tokens_mean",
            "out tok",
            "tokens",
            None,
            "mean completion tokens per request",
            "{:.0f}",
        ),
        Field(
            "completion_tokens_total",
            "out tok Σ",
            "tokens",
            None,
            "completion tokens over measured requests",
            "{:d}",
        ),
    ]
}

# The columns of the after-run table, in order (hyperfine/llama-bench keep theirs short; so do we).
SUMMARY_COLUMNS = [
    "n",
    "pass_rate",
    "ttft_p50_ms",
    "ttft_p95_ms",
    "decode_tps_mean",
    "decode_tps_sd",
    "e2e_p50_ms",
    "e2e_p95_ms",
    "prompt_tokens_mean",
    "completion_tokens_mean",
    "errors",
]


def field(name: str) -> Field:
    return FIELDS[name]
