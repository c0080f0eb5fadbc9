"""One rule for "does this device have prices, and how is it priced?": the same answer for a loaded
profile and for the device dict a manifest recorded, and a fix that fits the kind of device."""

from __future__ import annotations

import pytest

from bench.devices.price_rules import price_gap, pricing_basis
from bench.devices.profiles import auto_profile, list_devices, load_device


@pytest.mark.parametrize("name", sorted(p.stem for p in list_devices()))
def test_profile_and_recorded_device_agree(name: str) -> None:
    profile = load_device(name)
    recorded = {**profile.public_dict(), "origin": profile.origin}  # what the runner writes
    assert pricing_basis(recorded) == pricing_basis(profile) == profile.pricing


def test_bases_and_gaps_by_kind() -> None:
    assert pricing_basis({"kind": "local"}) is None
    assert pricing_basis({"kind": "local", "kwh_usd": 0}) == "hardware"  # free electricity is a price
    assert pricing_basis({"kind": "rented", "usd_per_hour": 2.5}) == "rented"
    assert pricing_basis({"kind": "cloud", "input_usd_per_mtok": 1.0}) == "tokens"
    assert pricing_basis({"kind": "cloud", "subscription_usd_per_month": 10}) == "subscription"
    assert pricing_basis(auto_profile()) == "hardware"  # the US-average electricity price
    local = price_gap({"kind": "local"})
    assert local is not None and "add price_usd" in local and "--kwh-usd" in local
    cloud = price_gap({"kind": "cloud"})
    assert cloud is not None and "input_usd_per_mtok" in cloud and "price database" in cloud
    assert "usd_per_hour" in (price_gap({"kind": "rented"}) or "")
    assert price_gap({"kind": "cloud", "input_usd_per_mtok": 1.0}) is None


def test_a_subscription_without_volume_is_told_the_volume_not_token_prices() -> None:
    plan = load_device("opencode-go-kimi-k2.5")
    assert plan.pricing == "subscription" and plan.tasks_per_month is None
    gap = price_gap(plan.public_dict())
    assert gap is not None and "tasks_per_month" in gap and "--tasks-per-month" in gap
    assert "input_usd_per_mtok" not in gap
    stated = plan.model_copy(update={"tasks_per_month": 1000})
    assert price_gap(stated) is None
