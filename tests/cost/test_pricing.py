"""Per-record cost derived at read time, its inputs' precedence, labels, and "priced on cloud"."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cost.enrich import EnrichOptions, enrich
from bench.cost.pricing import cost_by_task, cost_inputs, price_records, priced_on_cloud
from bench.devices.price_db import database
from bench.devices.profiles import auto_profile, load_device
from bench.report.summary import summarize
from bench.results.bundle import BundleWriter, read_bundle
from tests.helpers.cost import device_manifest, manifest_for, record


def test_local_cost_from_measured_energy() -> None:
    m = device_manifest("jetson-orin-nano-super")
    [r] = price_records([record(seconds=2.0, energy_j=20.0, energy_source="sampled")], m)
    # energy: 20 J / 3.6e6 × $0.16 × 1.15 = 1.0222222e-6; hardware: 249 / 6570 × 2/3600 = 2.1055302e-5
    assert r.cost_energy_usd == pytest.approx(1.0222222e-6, rel=1e-6)
    assert r.cost_hardware_usd == pytest.approx(2.1055302e-5, rel=1e-6)
    assert r.cost_usd == pytest.approx(2.2077524e-5, rel=1e-6)
    assert r.cost_api_usd is None and r.cost_source == "measured"


def test_local_cost_without_energy_is_estimated_from_max_w() -> None:
    m = device_manifest("jetson-orin-nano-super", settings={})
    records = price_records([record(seconds=2.0)], m)
    # 25 W (the 25W mode) × 2 s = 50 J → 50 / 3.6e6 × 0.16 × 1.15 = 2.5555556e-6 $
    assert records[0].cost_energy_usd == pytest.approx(2.5555556e-6, rel=1e-6)
    assert records[0].cost_source == "estimated"
    summary = summarize(records, m)
    assert summary["overall"]["cost_basis"] == "estimated"
    assert any("estimated: max_w 25 W" in n for n in summary["cost"]["notes"])
    # the power layer's own estimate is labelled estimated too
    [r] = price_records([record(energy_j=30.0, energy_source="estimated")], m)
    assert r.cost_source == "estimated"


def test_power_mode_changes_the_estimate() -> None:
    m = manifest_for(load_device("jetson-orin-nano-super", power_mode="7W"))
    [r] = price_records([record(seconds=2.0)], m)
    # 7 W × 2 s = 14 J → 14 / 3.6e6 × 0.16 × 1.15 = 7.1555556e-7 $
    assert r.cost_energy_usd == pytest.approx(7.1555556e-7, rel=1e-6)


def test_price_inputs_precedence_reader_then_run_then_profile() -> None:
    m = device_manifest("jetson-orin-nano-super", settings={"kwh_usd": 0.20, "hardware_usd": 300.0})
    inp = cost_inputs(m)
    assert (inp.kwh_usd, inp.kwh_from) == (0.20, "run --kwh-usd")
    assert (inp.hardware_usd, inp.hardware_from) == (300.0, "run --hardware-usd")
    inp = cost_inputs(m, EnrichOptions(kwh_usd=0.0, hardware_usd=0.0))
    assert (inp.kwh_usd, inp.kwh_from) == (0.0, "--kwh-usd")  # zero is a real price, not "absent"
    assert (inp.hardware_usd, inp.hardware_from) == (0.0, "--hardware-usd")
    assert cost_inputs(device_manifest("jetson-orin-nano-super")).kwh_from == "profile"
    [r] = price_records([record(seconds=2.0, energy_j=20.0)], m, EnrichOptions(kwh_usd=0.0, hardware_usd=0.0))
    assert r.cost_usd == 0.0


def test_auto_excludes_hardware_until_given() -> None:
    m = manifest_for(auto_profile())
    records = price_records([record(seconds=2.0, energy_j=20.0)], m)
    assert records[0].cost_hardware_usd is None
    assert records[0].cost_energy_usd == pytest.approx(20 / 3.6e6 * 0.16)  # auto: wall_factor 1
    notes = summarize(records, m)["cost"]["notes"]
    assert any("excludes hardware" in n and "--hardware-usd" in n for n in notes)
    # given at run time: $900 over auto's 3 y at 25% → 900 / 6570 × 2/3600 = 7.6103501e-5 $
    m2 = manifest_for(auto_profile(), settings={"hardware_usd": 900.0})
    [r] = price_records([record(seconds=2.0)], m2)
    assert r.cost_hardware_usd == pytest.approx(7.6103501e-5, rel=1e-6)
    assert r.cost_energy_usd is None and r.cost_source == "hardware"  # no energy, no max_w
    assert any("excludes energy" in n for n in summarize([r], m2)["cost"]["notes"])


def test_cloud_token_cost_with_cached_and_reasoning() -> None:
    m = device_manifest("openai-gpt-4o-mini")
    rec = record(prompt_tokens=1000, completion_tokens=200, cached_tokens=400, reasoning_tokens=50)
    [r] = price_records([rec], m)
    assert r.cost_api_usd == pytest.approx(2.7e-4) and r.cost_usd == r.cost_api_usd
    assert r.cost_source == "tokens" and r.cost_energy_usd is None and r.cost_hardware_usd is None
    [none] = price_records([record(prompt_tokens=None, status="error", passed=False)], m)
    assert none.cost_usd is None


def test_subscription_needs_stated_volume() -> None:
    m = device_manifest("opencode-go-kimi-k2.5")
    [r] = price_records([record()], m)
    assert r.cost_usd is None
    assert any("tasks per month" in n for n in summarize([r], m)["cost"]["notes"])
    [r] = price_records([record()], m, EnrichOptions(tasks_per_month=2000))
    assert r.cost_usd == pytest.approx(10 / 2000) and r.cost_source == "subscription"


def test_aggregates_per_task_and_per_run() -> None:
    m = device_manifest("jetson-orin-nano-super")
    raw = [
        record(task_id="a", seconds=1.0, energy_j=10.0, passed=True, completion_tokens=40),
        record(task_id="a", seconds=1.0, energy_j=10.0, passed=False, completion_tokens=40),
        record(task_id="b", seconds=3.0, energy_j=30.0, passed=True, completion_tokens=120),
        record(task_id="b", seconds=9.0, energy_j=90.0, warmup=True),  # priced, never aggregated
    ]
    records = price_records(raw, m)
    assert records[3].cost_usd is not None
    per_hour_energy = 0.16 * 1.15 / 3.6e6  # $ per J
    per_s_hw = 249 / 6570 / 3600  # $ per serving second
    a_one = 10 * per_hour_energy + 1 * per_s_hw
    b_one = 30 * per_hour_energy + 3 * per_s_hw
    by_task = cost_by_task(records)
    assert by_task["a"]["cost_total_usd"] == pytest.approx(2 * a_one)
    assert by_task["a"]["cost_per_success_usd"] == pytest.approx(2 * a_one)  # 1 of 2 passed
    assert by_task["b"]["n"] == 1 and by_task["b"]["cost_per_task_usd"] == pytest.approx(b_one)
    overall = summarize(records, m)["overall"]
    total = 2 * a_one + b_one
    assert overall["cost_total_usd"] == pytest.approx(total)
    assert overall["cost_per_task_usd"] == pytest.approx(total / 3)
    assert overall["cost_per_success_usd"] == pytest.approx(total / 2)
    assert overall["usd_per_mtok_out"] == pytest.approx(total / 200 * 1e6)
    assert overall["cost_energy_per_task_usd"] == pytest.approx(50 * per_hour_energy / 3)
    assert overall["cost_hardware_per_task_usd"] == pytest.approx(5 * per_s_hw / 3)
    assert overall["cost_api_per_task_usd"] is None and overall["cost_basis"] == "measured"


def test_priced_on_cloud_is_labelled_and_correct() -> None:
    records = [
        record(prompt_tokens=100, completion_tokens=50),
        record(prompt_tokens=300, completion_tokens=150),
    ]
    [row] = priced_on_cloud(records, [("openai-gpt-4o-mini", load_device("openai-gpt-4o-mini"))])
    # (100 × 0.15 + 50 × 0.60) / 1e6 = 4.5e-5; (300 × 0.15 + 150 × 0.60) / 1e6 = 1.35e-4; Σ 1.8e-4
    assert row["cost_total_usd"] == pytest.approx(1.8e-4)
    assert row["cost_per_task_usd"] == pytest.approx(9e-5)
    assert row["usd_per_mtok_out"] == pytest.approx(1.8e-4 / 200 * 1e6)  # $0.90 per 1M output tokens
    assert row["as_of"] == database().data_date.isoformat()  # the price database's data date
    summary = summarize(
        price_records(records, device_manifest("jetson-orin-nano-super")),
        device_manifest("jetson-orin-nano-super"),
    )
    priced = summary["cost"]["priced_on_cloud"]
    assert priced["label"].startswith("priced, not run")
    assert {r["profile"] for r in priced["rows"]} >= {"openai-gpt-4o-mini", "groq-llama-3.1-8b"}
    cloud_summary = summarize(records, device_manifest("openai-gpt-4o-mini"))
    assert "priced_on_cloud" not in cloud_summary["cost"]


def test_enrich_reads_a_bundle_and_reprices_it(tmp_path: Path) -> None:
    m = device_manifest("jetson-orin-nano-super", settings={"kwh_usd": 0.20})
    writer = BundleWriter(tmp_path / "b", m)
    writer.append(record(seconds=2.0, energy_j=20.0))
    writer.close()
    bundle = read_bundle(tmp_path / "b")
    assert bundle.records[0].cost_usd is None  # nothing derived is stored
    e = 20 / 3.6e6 * 1.15
    assert enrich(bundle)[0].cost_energy_usd == pytest.approx(e * 0.20)  # the run's --kwh-usd
    assert enrich(bundle, EnrichOptions(kwh_usd=0.40))[0].cost_energy_usd == pytest.approx(e * 0.40)
