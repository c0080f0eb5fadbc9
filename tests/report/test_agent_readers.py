"""Agent records in the readers: an agent task counts once (its summary) in pass rate, cost and energy;
latency comes from its model calls; single-shot records keep their old meaning; bad traces fail at load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cost.pricing import CostInputs, cost_by_task, price_record, price_records, priced_on_cloud
from bench.cost.tiers import rates_for
from bench.devices.profiles import load_device
from bench.errors import SuiteError
from bench.results.metrics.aggregate import group_metrics, samples
from bench.results.schema import Record
from bench.run.trace import load_trace
from tests.helpers import run_cli
from tests.helpers.cost import manifest_for


def _rec(**kw: object) -> Record:
    base = dict(
        run_id="r",
        task_id="t",
        category="c",
        repetition=0,
        warmup=False,
        status="ok",
        started_utc="x",
        start_ns=0,
        end_ns=10**9,
    )
    return Record(**{**base, **kw})  # type: ignore[arg-type]


def _agent_task() -> list[Record]:
    m0 = _rec(
        kind="model",
        step=0,
        start_ns=0,
        end_ns=4 * 10**8,
        ttft_ms=100.0,
        e2e_ms=400.0,
        prompt_tokens=100,
        cached_tokens=0,
        completion_tokens=10,
    )
    t0 = _rec(
        kind="tool",
        step=0,
        start_ns=4 * 10**8,
        end_ns=6 * 10**8,
        e2e_ms=200.0,
        tool_name="python",
        tool_cpu_s=0.1,
    )
    m1 = _rec(
        kind="model",
        step=1,
        start_ns=6 * 10**8,
        end_ns=10**9,
        ttft_ms=50.0,
        e2e_ms=400.0,
        prompt_tokens=150,
        cached_tokens=110,
        completion_tokens=5,
    )
    summary = _rec(
        kind="agent", start_ns=0, end_ns=10**9, e2e_ms=1000.0, prompt_tokens=250, cached_tokens=110, completion_tokens=15,
        input_fresh_tokens=140, passed=True, steps=2, tool_calls=1, model_s=0.8, tool_s=0.2, harness_s=0.0, wall_s=1.0,
    )  # fmt: skip
    return [m0, t0, m1, summary]


def test_agent_task_counts_once() -> None:
    single = _rec(task_id="s", ttft_ms=30.0, e2e_ms=90.0, prompt_tokens=20, completion_tokens=4, passed=False)
    m = group_metrics([*_agent_task(), single])
    assert m["n"] == 2 and m["checked"] == 2 and m["passed"] == 1  # the summary and the single request
    assert m["ttft_p50_ms"] == 50.0  # over the 2 model calls and the single request, not the summary
    assert m["completion_tokens_total"] == 19
    assert m["steps_mean"] == 2 and m["tool_seconds_share"] == pytest.approx(0.2)
    assert m["cached_input_share"] == pytest.approx(110 / 250)
    assert group_metrics([single])["steps_mean"] is None  # single-shot runs: no agent metrics


def test_cost_counts_the_summary_only_and_equals_the_sum_over_calls() -> None:
    cloud = load_device("openai-gpt-4o-mini")
    inp = CostInputs(device="x", kind="cloud", pricing="tokens", as_of=None, source=None,
                     rates=rates_for(cloud)[0])  # fmt: skip
    records = price_records(_agent_task(), manifest_for(cloud))
    summary = records[-1]
    calls = [price_record(r, inp).cost_usd for r in _agent_task() if r.kind == "model"]
    assert summary.cost_usd == pytest.approx(sum(c for c in calls if c is not None))
    # the cached tier is what makes these differ: gpt-4o-mini $0.15 in, $0.075 cached, $0.60 out
    no_cache = (250 * 0.15 + 15 * 0.60) / 1e6
    assert summary.cost_usd == pytest.approx((140 * 0.15 + 110 * 0.075 + 15 * 0.60) / 1e6)
    assert summary.cost_usd < no_cache
    by_task = cost_by_task(records)
    assert by_task["t"]["n"] == 1 and by_task["t"]["cost_total_usd"] == pytest.approx(summary.cost_usd)
    row = next(r for r in priced_on_cloud(records, [("gpt", cloud)]))
    assert row["n"] == 1 and row["cost_total_usd"] == pytest.approx(summary.cost_usd)
    assert group_metrics(records)["cost_per_success_usd"] == pytest.approx(summary.cost_usd)


def test_local_cost_covers_tool_time() -> None:
    inp = CostInputs(device="x", kind="local", pricing="hardware", as_of=None, source=None, kwh_usd=0.2,
                     hardware_usd=1000.0, lifetime_years=3.0, utilization=0.5, max_w=100.0)  # fmt: skip
    summary = price_record(_agent_task()[-1], inp)
    # energy at max_w over the whole 1 s window (model 0.8 s + tool 0.2 s), hardware over the same
    assert summary.cost_energy_usd == pytest.approx(100.0 * 1.0 / 3.6e6 * 0.2)
    assert summary.cost_hardware_usd == pytest.approx(1000.0 / (3 * 8760 * 0.5) / 3600)


def test_gate_samples_by_level() -> None:
    records = _agent_task()
    assert samples("ttft_p50_ms", records) == [100.0, 50.0]
    assert samples("pass_rate", records) == [1.0]


BAD_TRACES = [
    ('{"model": "x"}', "line 1: messages"),
    ("not json", "line 1: (line): not valid JSON"),
    ('{"messages": [{"role": "user", "content": "q"}]}', "line 1: usage"),
    (
        '{"messages": [{"role": "robot", "content": "q"}], "usage": {"completion_tokens": 1}}',
        "messages[0].role",
    ),
]
# malformed tool-call arguments are not a bad line: the live loop sent them as the model wrote them, and a
# replay sends them the same way (tests/hostile/test_trace_reading.py)


@pytest.mark.parametrize("line,needle", BAD_TRACES)
def test_bad_trace_lines(tmp_path: Path, line: str, needle: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(SuiteError) as exc:
        load_trace(path)
    assert str(path) in str(exc.value) and needle in str(exc.value) and "\n" not in str(exc.value)


def test_proxy_log_shape_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "proxy.jsonl"
    line = {"request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            "response": {"usage": {"prompt_tokens": 3, "completion_tokens": 2}}}  # fmt: skip
    path.write_text(json.dumps(line) + "\n")
    (step,) = load_trace(path)
    assert step.completion_tokens == 2 and step.task_id == "trace"


def test_cli_bad_trace_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"messages": []}\n')
    done = run_cli("run", "--trace", str(path), "--device", "openai-gpt-4o-mini", timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "t.jsonl: line 1: messages" in done.stderr


def test_cli_bad_agent_suite_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[[tasks]]\nid = "a"\nmessages = [{ role = "user", content = "q" }]\nagent = { tools = ["nope"] }\ncheck = { type = "number", value = 1 }\n'
    )
    done = run_cli("run", "--suite", str(path), timeout=60)
    assert done.returncode == 2 and "unknown tool 'nope'" in done.stderr and str(path) in done.stderr


def test_gate_rules_on_agent_metrics() -> None:
    from bench.ci.gate import evaluate_gate, parse_rules
    from bench.report.runs import Run
    from bench.results.schema import Manifest

    records = _agent_task()
    manifest = Manifest(
        tool_version="x",
        run_id="r",
        started_utc="x",
        anchor_perf_ns=0,
        host={},
        device={},
        backend={},
        suite={},
        settings={},
    )
    view = Run([Path("r")], [manifest], records)
    rules = parse_rules(
        {"absolute": {"steps": "<= 3", "tool_seconds_share": "<= 0.1", "cached_input_share": ">= 0.4"}},
        "g.toml",
    )
    result = evaluate_gate(rules, view, None)
    status = {o.rule: o.status for o in result.outcomes}
    assert status == {"steps_mean": "pass", "tool_seconds_share": "fail", "cached_input_share": "pass"}


def test_energy_of_a_task_and_of_its_calls_never_split(tmp_path: Path) -> None:
    """The summary's window spans its calls' windows: each layer gets the trace's full energy."""
    from bench.power.records import apply_energy
    from bench.results.schema import Manifest

    rows = ["t_ns,power_w,energy_j"] + [
        f"{i * 10**7},10.0,{(i + 10) * 0.1:.6f}" for i in range(-10, 121)
    ]  # 10 W
    (tmp_path / "power.csv").write_text("\n".join(rows) + "\n")
    manifest = Manifest(tool_version="x", run_id="r", started_utc="x", anchor_perf_ns=0, host={}, device={},
                        backend={}, suite={}, settings={},
                        power={"sensor": "test", "kind": "counter", "period_s": 0.01, "idle_w": 2.0})  # fmt: skip
    out = apply_energy(_agent_task(), manifest, tmp_path)
    energy = {(r.kind, r.step): r.energy_j for r in out}
    assert energy[("agent", None)] == pytest.approx(10.0, rel=0.02)
    assert energy[("model", 0)] == pytest.approx(4.0, rel=0.05)
    assert energy[("tool", 0)] == pytest.approx(2.0, rel=0.05)
    assert energy[("model", 1)] == pytest.approx(4.0, rel=0.05)
