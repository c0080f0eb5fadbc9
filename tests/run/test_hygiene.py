"""bench.run.hygiene: readings from real-format sysfs trees and tool output, tolerance of their absence, and a
busy program seen by the CPU sampler."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from bench.run import hygiene


def fake_sys(root: Path, governors: list[str], profile: str | None = None) -> Path:
    """A /sys tree laid out as Linux lays it out (cpufreq per CPU, ACPI platform profile)."""
    for i, gov in enumerate(governors):
        d = root / "devices" / "system" / "cpu" / f"cpu{i}" / "cpufreq"
        d.mkdir(parents=True)
        (d / "scaling_governor").write_text(gov + "\n")
    (root / "devices" / "system" / "cpu" / "cpufreq").mkdir(parents=True, exist_ok=True)  # not a cpuN
    if profile is not None:
        (root / "firmware" / "acpi").mkdir(parents=True)
        (root / "firmware" / "acpi" / "platform_profile").write_text(profile + "\n")
    return root


def test_governors_are_counted_per_cpu(tmp_path: Path) -> None:
    root = fake_sys(tmp_path, ["performance", "performance", "powersave", "performance"], "balanced")
    assert hygiene.cpu_governors(root) == {"performance": 3, "powersave": 1}
    assert hygiene.platform_profile(root) == "balanced"


def test_missing_sysfs_is_empty_not_an_error(tmp_path: Path) -> None:
    assert hygiene.cpu_governors(tmp_path / "nope") == {}
    assert hygiene.platform_profile(tmp_path / "nope") is None
    unreadable = fake_sys(tmp_path / "x", ["performance"])
    gov = unreadable / "devices/system/cpu/cpu0/cpufreq/scaling_governor"
    gov.unlink()
    gov.mkdir()  # reading a directory fails with an OSError, like an unreadable file
    assert hygiene.cpu_governors(unreadable) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NV Power Mode: 15W\n0\n", {"name": "15W", "id": 0}),
        ("NV Fan Mode:quiet\nNV Power Mode: MAXN_SUPER\n2\n", {"name": "MAXN_SUPER", "id": 2}),
        ("NV Power Mode: 25W\n", {"name": "25W", "id": None}),
        ("nvpmodel: error: permission denied\n", None),
        ("", None),
    ],
)
def test_parse_nvpmodel(text: str, expected: dict[str, object] | None) -> None:
    assert hygiene.parse_nvpmodel(text) == expected


def test_no_power_mode_without_nvpmodel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.path.exists("/etc/nv_tegra_release"):
        pytest.skip("a Jetson: nvpmodel is expected here")
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no nvpmodel to find
    assert hygiene.nvpmodel_mode() is None


def test_nvpmodel_is_queried_where_it_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tmp_path / "nvpmodel"
    tool.write_text('#!/bin/sh\n[ "$1" = "-q" ] || exit 2\nprintf "NV Power Mode: 15W\\n0\\n"\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert hygiene.nvpmodel_mode() == {"name": "15W", "id": 0}
    tool.write_text("#!/bin/sh\necho 'NVPM ERROR: failed' >&2\nexit 1\n")
    assert hygiene.nvpmodel_mode() is None


def test_temperatures_take_the_hottest_sane_reading_per_chip() -> None:
    # the named tuple psutil.sensors_temperatures() returns (documented fields)
    shwtemp = namedtuple("shwtemp", ["label", "current", "high", "critical"])
    readings = {
        "coretemp": [shwtemp("Package id 0", 61.0, 100.0, 100.0), shwtemp("Core 0", 58.0, 100.0, 100.0)],
        "nvme": [shwtemp("Composite", 39.85, 84.85, 84.85)],
        "acpitz": [shwtemp("", -273.0, None, None)],  # a broken sensor
        "empty": [],
    }
    assert hygiene.temperatures(readings) == {"coretemp": 61.0, "nvme": 39.9}


def test_cpu_activity_sees_a_busy_program() -> None:
    burner = subprocess.Popen(
        [sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<20: pass"]
    )
    try:
        time.sleep(0.3)
        act = hygiene.cpu_activity(window_s=0.6, top_n=10_000)
    finally:
        burner.kill()
        burner.wait()
    assert act["cpu_busy_pct"] >= 100 / (psutil.cpu_count() or 1) * 0.5  # at least half a CPU's share
    pids = {p["pid"]: p for p in act["top_processes"]}
    # a busy loop; on a loaded CI machine it may get only its share of the cores, never nothing
    assert burner.pid in pids and pids[burner.pid]["cpu_pct"] >= 5, act
    assert os.getpid() not in pids  # the sampler never counts itself
    assert set(pids[burner.pid]) == {"name", "pid", "cpu_pct"}  # names only: command lines hold secrets


def test_snapshot_has_every_field_and_is_json_ready() -> None:
    import json

    snap = hygiene.snapshot(window_s=0.05)
    expected = {
        "utc", "window_s", "cpu_busy_pct", "load_avg_1m", "top_processes", "cpu_governors",
        "platform_profile", "power_mode", "on_battery", "battery_pct", "temperatures_c", "cpu_freq_mhz",
        "boot_time",
    }  # fmt: skip
    recorded = snap.recorded()  # what the manifest holds: every reading, None where absent
    assert set(recorded) == expected
    assert snap.cpu_busy_pct is not None and 0 <= snap.cpu_busy_pct <= 100
    assert snap.boot_time is not None and snap.boot_time.endswith("Z")
    json.dumps(recorded)
