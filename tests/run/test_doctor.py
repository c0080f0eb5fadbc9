"""`infercost doctor`: each check's state and advice, on recorded sysfs trees and faked system facts."""

from __future__ import annotations

import json
import os
from collections import namedtuple
from pathlib import Path

import pytest

from bench.power.apple_macmon import INSTALL
from bench.power.apple_powermetrics import sudoers_fix
from bench.power.registry import Probe
from bench.run import doctor
from tests.helpers import run_cli
from tests.helpers.power import orin_nano_tree, rapl_tree

Battery = namedtuple("Battery", "percent secsleft power_plugged")
Temp = namedtuple("Temp", "label current high critical")


def by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


def test_unreadable_rapl_fails_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rapl_tree(tmp_path)
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, m, *a, **k: False if str(p).endswith("energy_uj") else real(p, m)
    )
    checks = by_name(doctor.run_checks(root=tmp_path, load_seconds=0.05, nvpmodel="/nonexistent"))
    rapl = checks["sensor rapl"]
    assert rapl.state == "fail" and "permission denied" in rapl.detail
    assert rapl.fix and "sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj" in rapl.fix
    assert 'RUN+="/bin/chmod a+r /sys%p/energy_uj"' in rapl.fix
    assert checks["sensor jetson-ina3221"].state == "info"  # absent is a fact, not a failure
    assert not doctor.is_ready(list(checks.values()))


def test_readable_jetson_is_ok_and_chosen(tmp_path: Path) -> None:
    orin_nano_tree(tmp_path)
    checks = doctor.sensor_checks(
        [
            Probe("nvml", False, False, "NVML unavailable"),
            Probe("jetson-ina3221", True, True, "power, VDD_IN"),
        ],
        insist=None,
    )
    got = by_name(checks)
    assert got["sensor jetson-ina3221"].state == "ok"
    assert got["power sensor"].state == "ok" and "jetson-ina3221" in got["power sensor"].detail


def test_powermetrics_without_sudo_and_macmon_missing() -> None:
    checks = by_name(
        doctor.sensor_checks(
            [
                Probe("apple-macmon", False, False, "macmon is not installed", INSTALL),
                Probe(
                    "apple-powermetrics",
                    True,
                    False,
                    "needs root, and sudo asks for a password",
                    sudoers_fix("ada"),
                ),
            ],
            insist=None,
        )
    )
    pm = checks["sensor apple-powermetrics"]
    assert pm.state == "fail" and pm.fix and "NOPASSWD: /usr/bin/powermetrics" in pm.fix
    assert "brew install macmon" in checks["sensor apple-macmon"].detail
    assert checks["power sensor"].state == "fail"


def test_insisted_sensor() -> None:
    probes = [Probe("rapl", False, False, "no RAPL zones")]
    assert by_name(doctor.sensor_checks(probes, insist="rapl"))["power sensor"].state == "fail"
    assert by_name(doctor.sensor_checks(probes, insist="csv:meter.csv"))["power sensor"].state == "ok"
    none_at_all = by_name(doctor.sensor_checks(probes, insist=None))["power sensor"]
    assert none_at_all.state == "warn" and none_at_all.fix and "csv:FILE" in none_at_all.fix


def test_battery() -> None:
    assert doctor.battery_check(lambda: None).state == "ok"
    assert doctor.battery_check(lambda: Battery(80.0, 3600, True)).state == "ok"
    on_battery = doctor.battery_check(lambda: Battery(64.0, 3600, False))
    assert on_battery.state == "fail" and on_battery.fix == "plug in the charger and re-run"


def test_governor(tmp_path: Path) -> None:
    assert doctor.governor_check(tmp_path).state == "info"
    for cpu in ("cpu0", "cpu1"):
        f = tmp_path / f"sys/devices/system/cpu/{cpu}/cpufreq/scaling_governor"
        f.parent.mkdir(parents=True)
        f.write_text("powersave\n")
    check = doctor.governor_check(tmp_path)
    assert check.state == "warn" and check.fix and "cpupower frequency-set -g performance" in check.fix
    for cpu in ("cpu0", "cpu1"):
        (tmp_path / f"sys/devices/system/cpu/{cpu}/cpufreq/scaling_governor").write_text("performance\n")
    assert doctor.governor_check(tmp_path).state == "ok"


def test_temperature() -> None:
    hot = doctor.temperature_check(lambda: {"k10temp": [Temp("Tctl", 91.0, 95.0, 100.0)]})
    assert hot.state == "warn" and "k10temp/Tctl at 91" in hot.detail
    cool = doctor.temperature_check(lambda: {"soc_thermal": [Temp("", 48.5, None, None)]})
    assert cool.state == "ok" and "48" in cool.detail
    assert doctor.temperature_check(lambda: {}).state == "info"


def test_background_load_runs() -> None:
    check = doctor.load_check(0.05)
    assert check.name == "background load" and check.state in ("ok", "warn")


def test_power_mode_from_nvpmodel(tmp_path: Path) -> None:
    fake = tmp_path / "nvpmodel"
    fake.write_text('#!/bin/sh\nprintf "NV Power Mode: MAXN_SUPER\\n2\\n"\n')
    fake.chmod(0o755)
    check = doctor.power_mode_check(str(fake))
    assert check is not None and "MAXN_SUPER (mode 2)" in check.detail
    assert doctor.power_mode_check("/nonexistent") is None


def test_doctor_cli_json_and_exit_codes() -> None:
    ok = run_cli("doctor", "--json", timeout=120)
    report = json.loads(ok.stdout)
    names = [c["name"] for c in report["checks"]]
    assert "power sensor" in names and "cpu governor" in names and "background load" in names
    assert ok.returncode == (0 if report["ready"] else 4)
    insist = run_cli("doctor", "--power", "jetson-ina3221", timeout=120)  # no Jetson here: not ready
    assert insist.returncode == 4, insist.stdout
    assert "not ready" in insist.stdout and "jetson-ina3221 (asked for)" in insist.stdout
