"""Energy end to end: `infercost run` with a power sensor on real llama.cpp requests, the bundle's
power.csv and manifest.power, energy fields derived at read time, and the summary's energy columns."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from rich.console import Console

from bench.cli.summary import summary_table as _summary_table
from bench.cost.enrich import enrich
from bench.errors import UsageError
from bench.report.energy import power_note
from bench.results.bundle import read_bundle
from bench.run.orchestrate import RunOptions, prepare_run
from tests.helpers import run_cli

pytestmark = pytest.mark.engine

SUITE = """
name = "one"
[[tasks]]
id = "capital"
category = "factual"
max_tokens = 8
messages = [{ role = "user", content = "What is the capital of France?" }]
check = { type = "contains", values = ["Paris"] }
[[tasks]]
id = "days"
category = "completion"
max_tokens = 6
prompt = "Monday, Tuesday, Wednesday,"
check = { type = "regex", pattern = "day" }
"""


@pytest.fixture()
def setup(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "one.toml").write_text(SUITE)
    (tmp_path / "box.toml").write_text('name = "test box"\nidle_w = 10.0\nmax_w = 40.0\n')
    return {
        "suite": str(tmp_path / "one.toml"),
        "device": str(tmp_path / "box.toml"),
        "out": str(tmp_path / "runs"),
    }


def test_estimated_energy_is_labelled_everywhere(setup: dict[str, str]) -> None:
    common = ["--suite", setup["suite"], "--device", setup["device"], "--out", setup["out"], "-w", "0"]
    proc = run_cli("run", *common, "-r", "2", "--power", "estimate", "--idle-seconds", "0.3", "--json")
    # (the CLI's table is drawn below from the same summary)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    o = summary["overall"]
    assert o["energy_estimated"] is True and o["energy_sources"] == {"estimated": 4}
    assert o["energy_per_task_j"] > 0 and o["j_per_token"] > 0 and 10.0 <= o["avg_power_w"] <= 40.0 + 1e-4
    assert summary["power"]["sensor"] == "estimate" and summary["power"]["estimated"] is True
    bundle = read_bundle(summary["run_dir"])
    power = bundle.manifest.power
    assert power is not None and power.kind == "counter"
    # an estimate's idle is the profile's stated 10 W, whatever the busy machine "read" before the run
    assert power.idle_w == 10.0 and power.idle_w_from == "stated (estimate sensor)"
    assert power.idle_w_observed is not None
    assert 10.0 - 1e-6 <= power.idle_w_observed <= 40.0 + 1e-6  # float rounding of the model
    assert (bundle.path / "power.csv").read_text().startswith("t_ns,power_w,energy_j\n")
    assert all(r.energy_j is None for r in bundle.records)  # raw records on disk; energy is derived
    for r in enrich(bundle):
        assert r.energy_source == "estimated" and r.energy_j and r.energy_j > 0
        assert r.avg_power_w is not None and 10.0 - 1e-4 <= r.avg_power_w <= 40.0 + 1e-4  # µJ rounding
        assert r.energy_net_j is not None and r.energy_net_j <= r.energy_j
    console = Console(width=200, record=True)
    console.print(_summary_table(summary))
    table = console.export_text()
    assert "J/task" in table and "J/tok" in table and "avg W" in table and "≈" in table
    assert "ESTIMATED" in (power_note(summary) or "")


def test_no_sensor_no_energy_columns(setup: dict[str, str]) -> None:
    proc = run_cli(
        "run", "--suite", setup["suite"], "--out", setup["out"], "-r", "1", "-w", "0", "--power", "none"
    )
    assert proc.returncode == 0, proc.stderr
    assert "J/task" not in proc.stdout and "energy: not measured (power measurement off" in proc.stdout
    run_dir = Path(setup["out"]) / next(p.name for p in Path(setup["out"]).iterdir())
    assert not (run_dir / "power.csv").exists()
    power = read_bundle(run_dir).manifest.power
    assert power is not None and power.recorded() == {
        "sensor": "none",
        "selected_by": "flag",
        "reason": "power measurement off (--power none)",
    }


def test_a_demanded_sensor_that_cannot_be_read_stops_before_the_run(setup: dict[str, str]) -> None:
    proc = run_cli("run", "--suite", setup["suite"], "--out", setup["out"], "--power", "jetson-ina3221")
    assert proc.returncode == 4
    assert "power sensor 'jetson-ina3221'" in proc.stderr and "Traceback" not in proc.stderr
    assert not Path(setup["out"]).exists() or not any(Path(setup["out"]).iterdir())
    for power, message in (
        ("wattmeter", "unknown power sensor 'wattmeter'"),
        ("estimate", "idle_w and max_w"),
        ("csv:", "needs a file name"),
    ):
        with pytest.raises(UsageError, match=message) as exc:  # exit 2
            prepare_run(RunOptions(suite=setup["suite"], out=Path(setup["out"]), power=power))
        assert exc.value.exit_code == 2


def test_the_sensor_opens_after_the_engine_has_loaded(
    setup: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """NVML initialised before llama.cpp's CUDA context crashed the model load on an H200: every sensor
    opens after ``backend.load()`` and is closed after the run."""
    import bench.run.orchestrate as orchestrate
    from bench.backends.llama_cpp import LlamaCppBackend

    events: list[str] = []
    real_load, real_select = LlamaCppBackend.load, orchestrate.select_for_device

    def load(self: LlamaCppBackend) -> dict[str, object]:
        events.append("engine loaded")
        return real_load(self)

    def select(*args: object, **kwargs: object) -> object:
        events.append("sensor opened")
        return real_select(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LlamaCppBackend, "load", load)
    monkeypatch.setattr(orchestrate, "select_for_device", select)
    options = RunOptions(
        suite=setup["suite"],
        device=setup["device"],
        out=Path(setup["out"]),
        power="estimate",
        repetitions=1,
        warmup=0,
        idle_seconds=0.0,
    )
    outcome = orchestrate.execute_run(prepare_run(options))
    assert events == ["engine loaded", "sensor opened"]
    power = read_bundle(outcome.run_dir).manifest.power
    assert power is not None and power.sensor == "estimate"


def test_external_wall_meter_trace_written_after_the_run(setup: dict[str, str], tmp_path: Path) -> None:
    """A smart plug exports its log after the run: energy is derived when the bundle is read, aligned by
    the wall-clock anchor."""
    meter = tmp_path / "plug.csv"
    proc = run_cli(
        "run", "--suite", setup["suite"], "--out", setup["out"], "-r", "2", "-w", "0",
        "--power", f"csv:{meter}", "--idle-seconds", "0.5", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_dir = json.loads(proc.stdout)["run_dir"]
    bundle = read_bundle(run_dir)
    power = bundle.manifest.power
    assert power is not None and power.sensor == f"csv:{meter}" and power.idle_w is None
    assert all(r.energy_j is None for r in enrich(bundle))  # no trace yet
    assert power.anchor_wall_ns is not None and power.anchor_perf_ns is not None
    wall0 = power.anchor_wall_ns + (bundle.manifest.anchor_perf_ns - power.anchor_perf_ns)
    last = max(r.end_ns for r in bundle.records)
    lines = ["timestamp,watts"]
    # a lab meter logging at 100 Hz (so even short requests are measured), 50 W, from 2 s before the run
    # to 2 s after it
    for i in range(-200, int(last / 1e7) + 200):
        stamp = dt.datetime.fromtimestamp((wall0 + i * 10_000_000) / 1e9, dt.timezone.utc)
        lines.append(f"{stamp.isoformat().replace('+00:00', 'Z')},50.0")
    meter.write_text("\n".join(lines) + "\n")
    records = enrich(read_bundle(run_dir))
    assert all(r.energy_j is not None for r in records)
    for r in records:
        assert r.avg_power_w == pytest.approx(50.0, rel=0.02)
        assert r.energy_source in ("sampled", "apportioned")
        assert r.energy_net_j == pytest.approx(0.0, abs=0.05 * r.energy_j)  # idle was 50 W as well
