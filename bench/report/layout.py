"""Which registry metrics each report table shows, in order (the registry says what they mean)."""

from __future__ import annotations

__all__ = [
    "CATEGORY_COLUMNS", "OPTIONAL_COLUMNS", "RUN_COLUMNS", "SUMMARY_COLUMNS", "TASK_COLUMNS",
    "TERMINAL_COLUMNS",
]  # fmt: skip

# The columns of the after-run table, in order (hyperfine/llama-bench keep theirs short; so do we).
SUMMARY_COLUMNS = [
    "n", "pass_rate", "ttft_p50_ms", "ttft_p95_ms", "decode_tps_mean", "decode_tps_sd",
    "e2e_p50_ms", "e2e_p95_ms", "prompt_tokens_mean", "completion_tokens_mean",
    "energy_per_task_j", "j_per_token", "avg_power_w", "errors",
]  # fmt: skip
# shown only when some row has a value (no power sensor: no energy columns)
OPTIONAL_COLUMNS = frozenset({"energy_per_task_j", "j_per_token", "avg_power_w"})

# per run: the at-a-glance table of a published comparison
RUN_COLUMNS = [
    "n", "pass_rate", "cost_per_task_usd", "cost_per_success_usd", "energy_per_task_j",
    "ttft_p50_ms", "ttft_p95_ms", "e2e_p50_ms", "e2e_p95_ms", "decode_tps_mean",
    "usd_per_mtok_out", "roofline_fraction", "errors",
]  # fmt: skip

CATEGORY_COLUMNS = [
    "n", "pass_rate", "cost_per_success_usd", "energy_per_success_j", "energy_per_task_j", "ttft_p50_ms",
    "e2e_p50_ms", "decode_tps_mean", "completion_tokens_mean", "errors",
]  # fmt: skip

TASK_COLUMNS = [
    "passed", "cost_per_task_usd", "energy_per_task_j", "ttft_p50_ms", "e2e_p50_ms",
    "decode_tps_mean", "completion_tokens_mean", "errors",
]  # fmt: skip

# the terminal's short view of the run table (hyperfine keeps its terminal summary short; files get all)
TERMINAL_COLUMNS = [
    "pass_rate", "cost_per_task_usd", "cost_per_success_usd", "energy_per_task_j", "ttft_p50_ms",
    "e2e_p50_ms", "decode_tps_mean", "errors",
]  # fmt: skip
