"""Cost end to end: a real llama.cpp run priced at read time, its summary, and break-even on its bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.results.bundle import read_bundle
from tests.helpers import ROOT, run_cli

MINI = str(ROOT / "tests" / "fixtures" / "suites" / "mini.toml")
pytestmark = pytest.mark.engine


def test_auto_run_with_cost_flags(tmp_path: Path) -> None:
    proc = run_cli(
        "run", "--suite", MINI, "-r", "1", "-w", "0", "--out", str(tmp_path),
        "--hardware-usd", "800", "--kwh-usd", "0.25", "--memory-bandwidth-gbs", "20", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    bundle = read_bundle(summary["run_dir"])
    settings = bundle.manifest.settings
    assert settings.hardware_usd == 800 and settings.kwh_usd == 0.25 and settings.memory_bandwidth_gbs == 20
    assert all(r.cost_usd is None for r in bundle.records)  # derived at read time, never stored
    inputs = summary["cost"]["inputs"]
    assert inputs["hardware_from"] == "run --hardware-usd" and inputs["kwh_from"] == "run --kwh-usd"
    overall = summary["overall"]
    # auto: no power reading and no max_w, so only the hardware is costed, and the notes say so
    assert overall["cost_hardware_per_task_usd"] > 0 and overall["cost_energy_per_task_usd"] is None
    assert overall["cost_basis"] == "hardware"
    assert any("excludes energy" in n for n in summary["cost"]["notes"])
    e2e_s = sum(r.end_ns - r.start_ns for r in bundle.records) / 1e9
    assert overall["cost_total_usd"] == pytest.approx(800 / (3 * 8760 * 0.25) * e2e_s / 3600, rel=1e-9)
    roof = summary["roofline"]
    model_bytes = bundle.manifest.model.tensor_bytes  # type: ignore[union-attr]
    assert roof["status"] == "ok" and roof["bound_tps"] == pytest.approx(20e9 / model_bytes)
    assert (
        roof["bandwidth_from"] == "run --memory-bandwidth-gbs"
        and roof["llc_bytes"] == bundle.manifest.host.llc_bytes
    )
    rows = summary["cost"]["priced_on_cloud"]["rows"]
    assert len(rows) >= 7 and all(r["as_of"] for r in rows)
    gpt = next(r for r in rows if r["profile"] == "openai-gpt-4o-mini")
    tokens_in = sum(r.prompt_tokens or 0 for r in bundle.records)
    tokens_out = sum(r.completion_tokens or 0 for r in bundle.records)
    assert gpt["cost_total_usd"] == pytest.approx((tokens_in * 0.15 + tokens_out * 0.60) / 1e6)

    be = run_cli("breakeven", summary["run_dir"], "--cloud", "groq-llama-3.1-8b", "--json", timeout=60)
    assert be.returncode == 0, be.stderr
    data = json.loads(be.stdout)
    assert data["device"]["hardware_usd"] == 800 and data["device"]["kwh_usd"] == 0.25
    assert data["clouds"][0]["verdict"] in ("breaks_even", "above_capacity", "never")


def test_profile_run_labels_estimated_energy(tmp_path: Path) -> None:
    proc = run_cli(
        "run",
        "--suite",
        MINI,
        "-r",
        "1",
        "-w",
        "0",
        "--out",
        str(tmp_path),
        "--device",
        "jetson-orin-nano-super",
        "--power-mode",
        "7W",
        "--power",
        "none",
    )  # the profile names the INA3221 sensor, absent here: without --power none the run stops (exit 4)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "estimated" in out and "energy cost is estimated: max_w 7 W" in out
    assert "priced, not run" in out and "roofline: decode" in out and "$249" in out
    bundle = read_bundle(next(tmp_path.iterdir()))
    assert bundle.manifest.device.power_mode == "7W" and bundle.manifest.device.max_w == 7.0
    bad = run_cli(
        "run",
        "--suite",
        MINI,
        "--out",
        str(tmp_path),
        "--device",
        "jetson-orin-nano-super",
        "--power-mode",
        "9W",
    )
    assert bad.returncode == 2 and "unknown power mode '9W'" in bad.stderr
    neg = run_cli("run", "--suite", MINI, "--out", str(tmp_path), "--kwh-usd", "-0.1")
    assert neg.returncode == 2 and "--kwh-usd -0.1" in neg.stderr
