"""Typed manifest parts: every bundle the project has published or keeps as a fixture loads, each part
reads back exactly as the bundle holds it (keys, order, values), unknown fields survive a rewrite, the
device part prices by the one rule, and a run's device keeps its identity in a results database.

``tests/fixtures/legacy_bundles/example-2026-11-26-smollm2`` is a bundle of the example published with
an earlier version (its manifest as published, its first 12 records): a 36-field device profile, before
price tiers and rented GPUs. The bundles under ``reports/example/runs`` and ``tests/fixtures`` span the
versions since."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from bench.devices.price_rules import price_gap, pricing_basis
from bench.devices.profiles import DeviceProfile, list_devices, load_device
from bench.results.bundle import BundleWriter, read_bundle
from bench.results.db.mapping import dimension_rows
from bench.results.schema import DeviceFacts, EngineSettings, Manifest, PowerFacts
from tests.helpers import FIXTURES, ROOT

PARTS = ("device", "power", "hygiene", "resumes", "sandbox")
LEGACY = FIXTURES / "legacy_bundles" / "example-2026-11-26-smollm2"
MANIFESTS = sorted(
    [*(ROOT / "reports" / "example" / "runs").glob("*/manifest.json"), *FIXTURES.glob("**/manifest.json")]
)


def _raw(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_the_published_and_fixture_manifests_are_all_here() -> None:
    names = {p.parent.name for p in MANIFESTS}
    assert len(MANIFESTS) >= 20
    assert {"smollm2-mini-cloud", LEGACY.name} <= names


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_part_reads_back_exactly_as_recorded(path: Path) -> None:
    raw = _raw(path)
    m = Manifest.model_validate(raw)
    written = m.model_dump(mode="json")
    for part in PARTS:
        if part in raw:  # a part the version did not record stays unrecorded... and reads as absent
            assert written[part] == raw[part], part
    for part in ("device", "power", "hygiene", "sandbox"):
        if isinstance(raw.get(part), dict):
            assert list(written[part]) == list(raw[part]), f"{part}: key order"
    assert m.device.recorded() == raw["device"]
    assert m.backend.settings.recorded() == raw["backend"]["settings"]
    assert list(m.backend.settings.recorded()) == list(raw["backend"]["settings"])
    # readers get types, not JSON: the facts the views read
    assert m.device.name == raw["device"]["name"] and m.device.kind == raw["device"].get("kind")
    if raw.get("power"):
        assert isinstance(m.power, PowerFacts) and m.power.sensor == raw["power"]["sensor"]
    if "hygiene" not in raw:
        assert m.hygiene is None and m.resumes == [] and m.sandbox is None


def test_a_bundle_of_an_earlier_version_loads_and_renders() -> None:
    """The 2026-11-26 example: a device without price tiers, no sandbox; read as a bundle and reported."""
    from bench.report.build import ReportOptions, build_report
    from bench.report.markdown import render_markdown
    from bench.report.runs import load_runs

    m = read_bundle(LEGACY).manifest
    assert m.device.cache_read_usd_per_mtok is None and m.device.usd_per_hour is None  # not yet fields
    assert m.device.pricing == "hardware" and m.sandbox is None and m.resumes == []
    assert m.hygiene is not None and m.hygiene.at("start").cpu_freq_mhz == 2596
    assert m.power is not None and not m.power.ran and m.power.reason is not None
    report = build_report(load_runs([LEGACY]), ReportOptions(now_utc="2026-11-26T12:00:00Z"))
    text = render_markdown(report, "legacy-charts")
    assert "smollm2" in text and "no readable power sensor" in text and "kwh\\_usd=0.16" in text


def test_fields_a_newer_version_adds_survive_a_rewrite(tmp_path: Path) -> None:
    """Readers ignore what they do not know; a bundle rewritten by this version (``--resume``) keeps it."""
    raw = _raw(FIXTURES / "bundles" / "smollm2-mini-priced" / "manifest.json")
    raw["device"]["carbon_g_per_kwh"] = 420.0
    raw["power"]["sensor_firmware"] = "2.1"
    raw["hygiene"] = {"start": {"utc": "2026-11-26T00:00:00Z", "fan_rpm": 2400}, "later": True}
    raw["resumes"] = [{"started_utc": "2026-11-26T01:00:00Z", "operator": "ci"}]
    raw["sandbox"] = {"platform": "linux", "seccomp": True}
    raw["backend"]["settings"]["rope_scaling"] = "yarn"
    m = Manifest.model_validate(raw)
    assert m.device.price_usd == 1000.0 and m.resumes[0].started_utc == "2026-11-26T01:00:00Z"
    writer = BundleWriter(tmp_path / "run", m)
    writer.close()
    again = _raw(tmp_path / "run" / "manifest.json")
    assert again["device"]["carbon_g_per_kwh"] == 420.0 and again["power"]["sensor_firmware"] == "2.1"
    assert again["hygiene"] == raw["hygiene"] and again["resumes"] == raw["resumes"]
    assert again["sandbox"] == raw["sandbox"] and again["backend"]["settings"]["rope_scaling"] == "yarn"


def test_null_list_parts_read_as_empty() -> None:
    raw = _raw(FIXTURES / "bundles" / "smollm2-mini" / "manifest.json")
    m = Manifest.model_validate({**raw, "resumes": None, "counts": None, "command": None})
    assert m.resumes == [] and m.counts == {} and m.command == []


def test_a_part_of_the_wrong_type_is_refused_with_its_field(tmp_path: Path) -> None:
    from bench.errors import BundleError

    raw = _raw(FIXTURES / "bundles" / "smollm2-mini" / "manifest.json")
    run = tmp_path / "bad"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({**raw, "device": {**raw["device"], "max_w": "lots"}}))
    with pytest.raises(BundleError, match=r"invalid manifest: device\.max_w"):
        read_bundle(run)


def test_the_device_part_has_every_profile_field_in_the_profile_order() -> None:
    """The runner records ``DeviceProfile.public_dict()``: a profile field the part lacked would be read
    by nobody (an extra), and a different order would reorder every new manifest."""
    profile_fields = [n for n, f in DeviceProfile.model_fields.items() if not f.exclude]
    part_fields = list(DeviceFacts.model_fields)
    assert part_fields == [*profile_fields, "origin"]


@pytest.mark.parametrize("name", ["auto", *sorted(p.stem for p in list_devices())])
def test_the_recorded_device_prices_by_the_one_rule(name: str) -> None:
    profile = load_device(name)
    device = DeviceFacts.model_validate({**profile.public_dict(), "origin": profile.origin})
    assert device.pricing == profile.pricing == pricing_basis(profile)
    assert device.price_gap == price_gap(profile)
    assert (device.schedule is not None) == (device.pricing == "tokens")
    assert device.recorded() == {**profile.public_dict(), "origin": profile.origin}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.parent.name)
def test_a_device_keeps_its_database_identity(path: Path) -> None:
    """``device_id`` is the hash of the profile as the bundle holds it, as before the parts were typed."""
    raw = _raw(path)
    row = dimension_rows(Manifest.model_validate(raw))["devices"]
    assert row is not None
    canonical = json.dumps(raw["device"], sort_keys=True, separators=(",", ":"), default=str)
    assert row["device_id"] == hashlib.sha256(canonical.encode()).hexdigest()[:32]
    assert row["profile_json"] == canonical


def test_engine_settings_facts() -> None:
    s = EngineSettings.model_validate({"n_threads": 4, "n_threads_batch": 8, "n_gpu_layers": -1, "api": "x"})
    assert s.threads() == 8 and s.gpu_offload and s.recorded()["api"] == "x"
    assert EngineSettings().threads() == 0 and not EngineSettings(n_gpu_layers=0).gpu_offload
