"""Capacity from real runs: SmolLM2 behind a real loopback ``llama_cpp.server``, the mini suite at
``--concurrency 1`` and ``2``, then ``infercost breakeven`` over both bundles as a user would run it.

The numbers are checked against what the records themselves say (the aggregate is recomputed here from
the request windows), never against a wall-clock expectation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.cost import formulas as cost
from bench.results.bundle import read_bundle
from tests.helpers import ROOT, run_cli
from tests.helpers.http import write_profile

MINI = str(ROOT / "tests" / "fixtures" / "suites" / "mini.toml")
# a priced endpoint: breakeven needs a price, a lifetime, idle watts and an electricity price
PRICED = (
    'as_of = 2026-11-28\nsource = "a test"\n'
    "price_usd = 600\nlifetime_years = 3\nutilization = 0.5\nidle_w = 10\nmax_w = 40\nkwh_usd = 0.2\n"
)


def _busy_s(windows: list[tuple[int, int]]) -> float:
    """The union of the request windows, by hand (merge sorted intervals)."""
    total, end = 0, None
    start = 0
    for s, e in sorted(windows):
        if end is None or s > end:
            if end is not None:
                total += end - start
            start, end = s, e
        else:
            end = max(end, e)
    assert end is not None
    return (total + end - start) / 1e9


@pytest.mark.engine
@pytest.mark.timeout(900)
def test_breakeven_over_real_concurrency_levels(llama_server: str, tmp_path: Path) -> None:
    profile = write_profile(
        tmp_path / "srv.toml", llama_server, model="smollm2-135m", top=PRICED, tokenizer="smollm2-135m"
    )
    dirs = []
    for c in ("1", "2"):
        proc = run_cli(
            "run", "--device", str(profile), "--suite", MINI, "-r", "4", "-w", "1", "--concurrency", c,
            "--out", str(tmp_path / f"c{c}"), "--json", timeout=600,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        dirs.append(json.loads(proc.stdout)["run_dir"])
    js = run_cli("breakeven", *dirs, "--cloud", "openai-gpt-4o-mini", "--json", timeout=120)
    assert js.returncode == 0, js.stderr
    data = json.loads(js.stdout)
    rows = {r["concurrency"]: r for r in data["levels"]}
    assert sorted(rows) == [1, 2]
    one, two = (read_bundle(d) for d in dirs)
    ok1 = [r for r in one.records if not r.warmup and r.status == "ok"]
    ok2 = [r for r in two.records if not r.warmup and r.status == "ok"]
    # one at a time: 730 h ÷ mean request time, as always
    mean_s = float(np.mean([r.e2e_ms for r in ok1])) / 1e3
    assert rows[1]["capacity_tasks_per_month"] == pytest.approx(cost.capacity_tasks_per_month(mean_s))
    assert rows[1]["capacity_from"].startswith("one request at a time")
    # two streams: tasks ÷ the time requests were in flight, not 1 / latency of one stream
    busy = _busy_s([(r.start_ns, r.end_ns) for r in two.records if not r.warmup])
    assert rows[2]["tasks_per_s"] == pytest.approx(len(ok2) / busy, rel=1e-6)
    assert "measured aggregate" in rows[2]["capacity_from"] and "at concurrency 2" in rows[2]["capacity_from"]
    assert any(  # the requests really overlapped
        b[0] < a[1]
        for a, b in zip(
            sorted((r.start_ns, r.end_ns) for r in ok2),
            sorted((r.start_ns, r.end_ns) for r in ok2)[1:],
            strict=False,
        )
    )
    # the fixed cost is the same device's: only the capacity it is spread over differs
    assert rows[1]["fixed_usd_per_month"] == pytest.approx(rows[2]["fixed_usd_per_month"])
    for r in rows.values():
        assert r["usd_per_task_at_capacity"] == pytest.approx(
            r["fixed_usd_per_month"] / r["capacity_tasks_per_month"] + r["net_j_per_task"] / 3.6e6 * 0.2,
            rel=1e-6,
        )
    assert data["chosen"]["largest_measured"] == 2
    # a volume above both levels is not extrapolated
    top = max(r["capacity_tasks_per_month"] for r in rows.values())
    over = run_cli(
        "breakeven", *dirs, "--cloud", "openai-gpt-4o-mini", "--tasks-per-day", str(top / 30.4 * 1.5), "--json",
        timeout=120,
    )  # fmt: skip
    at = json.loads(over.stdout)["clouds"][0]["at_volume"]
    assert "beyond the largest measured concurrency (2); not extrapolated" in at["text"]
