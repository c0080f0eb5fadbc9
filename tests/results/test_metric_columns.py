"""The metric core's figures from columns (``RecordColumns``, ``columns_metrics``) are the per-record ones.

Since issue 20's 100,000-record report, ``group_metrics`` computes from the records' fields as arrays, and
a report computes its categories' and tasks' figures as masks over one run's columns. These tests pin
that nothing moved: on random records (every kind, warm-ups, errors, absent values, NaN and infinite
samples, agent summaries), every figure of a run, a category and a task is, to the last bit and of the
same Python type, what the per-record passes of the earlier implementation (``_per_record`` below,
verbatim but for its name) gave.
"""

from __future__ import annotations

import math
from itertools import chain
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.results import stats
from bench.results.metrics.aggregate import (
    RecordColumns,
    agent_metrics,
    by_category,
    by_task,
    columns_metrics,
    energy_metrics,
    group_metrics,
    ratio,
)
from bench.results.metrics.policy import ATTEMPTS, MEASURED, TIMED
from bench.results.schema import Record


def _per_record(records: list[Record], *, intervals: bool = True) -> dict[str, Any]:
    """``group_metrics`` before the columns: one pass over the records per figure."""
    attempts = ATTEMPTS.select(records)
    ok = TIMED.select(records)
    judged = [r for r in attempts if r.passed is not None]
    passed = sum(1 for r in judged if r.passed)
    completion = [r.completion_tokens for r in ok if r.completion_tokens is not None]
    out_tokens = int(sum(completion))
    wilson = stats.wilson_interval(passed, len(judged))
    decode = stats.clean([r.decode_tps for r in ok])
    ttft = stats.clean([r.ttft_ms for r in ok])
    e2e = stats.clean([r.e2e_ms for r in ok])
    itl = np.fromiter(chain.from_iterable(r.itl_ms for r in ok), dtype=float)
    decode_ci = stats.mean_ci(decode) if intervals else None
    costs = [r.cost_usd for r in attempts if r.cost_usd is not None]
    energies = [r.energy_j for r in attempts if r.energy_j is not None]
    cost_total = float(sum(costs)) if costs else None
    energy_total = float(sum(energies)) if energies else None
    rss = [r.peak_rss_mb for r in MEASURED.select(records) if r.peak_rss_mb is not None]
    return {
        "n": len(attempts),
        "errors": sum(1 for r in attempts if r.status != "ok"),
        "pass_rate": (passed / len(judged)) if judged else None,
        "pass_rate_ci_low": wilson[0] if wilson else None,
        "pass_rate_ci_high": wilson[1] if wilson else None,
        "passed": passed,
        "checked": len(judged),
        "ttft_p50_ms": stats.percentile(ttft, 50),
        "ttft_p95_ms": stats.percentile(ttft, 95),
        "ttft_mean_ms": stats.mean(ttft),
        "e2e_mean_ms": stats.mean(e2e),
        "e2e_p50_ms": stats.percentile(e2e, 50),
        "e2e_p95_ms": stats.percentile(e2e, 95),
        "itl_p50_ms": stats.percentile(itl, 50),
        "tpot_mean_ms": stats.mean(r.tpot_ms for r in ok),
        "decode_tps_mean": stats.mean(decode),
        "decode_tps_sd": stats.stdev(decode),
        "decode_tps_ci_low": decode_ci[0] if decode_ci else None,
        "decode_tps_ci_high": decode_ci[1] if decode_ci else None,
        "prefill_tps_mean": stats.mean(r.prefill_tps for r in ok),
        "prompt_tokens_mean": stats.mean(r.prompt_tokens for r in ok),
        "completion_tokens_mean": stats.mean(completion),
        "completion_tokens_total": out_tokens,
        "cost_per_task_usd": stats.mean(costs),
        "cost_per_success_usd": ratio(cost_total, passed),
        "usd_per_mtok_out": ratio(cost_total, out_tokens, 1e6),
        "energy_per_task_j": stats.mean(energies),
        "energy_per_success_j": ratio(energy_total, passed),
        "j_per_token": ratio(energy_total, out_tokens),
        "cost_total_usd": cost_total,
        "cost_energy_per_task_usd": stats.mean(r.cost_energy_usd for r in attempts),
        "cost_hardware_per_task_usd": stats.mean(r.cost_hardware_usd for r in attempts),
        "cost_api_per_task_usd": stats.mean(r.cost_api_usd for r in attempts),
        "cost_basis": "+".join(sorted({r.cost_source for r in attempts if r.cost_source})) or None,
        "peak_rss_mb": max(rss) if rss else None,
        **energy_metrics(attempts),
        **agent_metrics(attempts),
    }


def _exact(figures: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Each figure's type and repr: equal only when equal to the last bit (NaN included) and of one type
    (a numpy integer where a Python int was would show)."""
    return {k: (type(v).__name__, repr(v)) for k, v in figures.items()}


# mostly finite values (sums of them differ in the last bits when added in another order), some absent,
# a few zeros, NaN and infinities
finite = st.floats(0.0, 500.0) | st.integers(1, 10**6).map(lambda k: k / 997)
floats = st.one_of(st.none(), finite, finite, finite, st.sampled_from([0.0, 0.1, math.nan, math.inf]))
record_fields = st.fixed_dictionaries(
    {
        "kind": st.sampled_from([None, None, None, "model", "tool", "agent"]),
        "task_id": st.sampled_from(["a", "b", "c", "d"]),
        "category": st.sampled_from(["x", "y"]),
        "repetition": st.integers(0, 2),
        "warmup": st.booleans(),
        "status": st.sampled_from(["ok", "ok", "ok", "error", "timeout"]),
        "passed": st.sampled_from([None, True, False]),
        "ttft_ms": floats,
        "e2e_ms": floats,
        "tpot_ms": floats,
        "decode_tps": floats,
        "prefill_tps": floats,
        "itl_ms": st.lists(st.floats(0.0, 50.0), max_size=4),
        "prompt_tokens": st.one_of(st.none(), st.integers(0, 5000)),
        "completion_tokens": st.one_of(st.none(), st.integers(0, 500)),
        "cost_usd": floats,
        "cost_energy_usd": floats,
        "cost_hardware_usd": floats,
        "cost_api_usd": floats,
        "cost_source": st.sampled_from([None, "measured", "estimated", "tokens"]),
        "energy_j": floats,
        "energy_net_j": floats,
        "energy_source": st.sampled_from([None, "counter", "estimated"]),
        "avg_power_w": floats,
        "peak_rss_mb": floats,
        "steps": st.one_of(st.none(), st.integers(0, 9)),
        "wall_s": floats,
        "model_s": floats,
        "cached_tokens": st.one_of(st.none(), st.integers(0, 100)),
    }
)


def _record(i: int, fields: dict[str, Any]) -> Record:
    return Record(run_id="run-cols", started_utc="2026-12-06T00:00:00Z", start_ns=i, end_ns=i + 1, **fields)


# some runs of many records: sums over 8 or more values are where another order of addition shows
records_st = (st.lists(record_fields, max_size=80) | st.lists(record_fields, min_size=30, max_size=80)).map(
    lambda fs: [_record(i, f) for i, f in enumerate(fs)]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=records_st, intervals=st.booleans())
def test_group_metrics_are_the_per_record_figures(records: list[Record], intervals: bool) -> None:
    assert _exact(group_metrics(records, intervals=intervals)) == _exact(
        _per_record(records, intervals=intervals)
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=records_st)
def test_a_report_s_groups_are_the_per_record_figures_of_their_records(records: list[Record]) -> None:
    """Categories and tasks as masks over the run's columns: the figures of ``by_category`` and
    ``by_task``'s record lists, in the same order."""
    columns = RecordColumns.of(records)
    for field, lists in (("category", by_category(records)), ("task_id", by_task(records))):
        groups = columns.groups(field)
        assert list(groups) == list(lists)
        for key, where in groups.items():
            assert [records[i] for i in np.flatnonzero(where)] == lists[key]
            got = columns_metrics(columns, where, intervals=False)
            assert _exact(got) == _exact(_per_record(lists[key], intervals=False))


def test_a_recorded_nan_is_not_an_absent_value() -> None:
    """A NaN cost is summed (the total is NaN, as a Python sum of it is); an absent one is left out:
    the columns keep the two apart although both are NaN in a float array."""
    base = {"task_id": "t", "category": "c", "repetition": 0, "warmup": False, "status": "ok", "passed": True}
    records = [_record(0, {**base, "cost_usd": 1.0}), _record(1, {**base, "cost_usd": None})]
    assert group_metrics(records)["cost_total_usd"] == 1.0
    records.append(_record(2, {**base, "cost_usd": math.nan}))
    assert math.isnan(group_metrics(records)["cost_total_usd"])
    assert _exact(group_metrics(records)) == _exact(_per_record(records))
