"""One rule for "does this device have prices, and how is it priced?": the same answer for a loaded
profile and for the device a manifest recorded (``DeviceFacts``, read back through the loader), and a fix
that fits the kind of device."""

from __future__ import annotations

from typing import Any

import pytest

from bench.devices.price_rules import price_gap, pricing_basis
from bench.devices.profiles import auto_profile, list_devices, load_device
from bench.results.schema import DeviceFacts


def _recorded(**fields: Any) -> DeviceFacts:
    """A device as a bundle holds it, validated as every reader gets it."""
    return DeviceFacts.model_validate(fields)


@pytest.mark.parametrize("name", sorted(p.stem for p in list_devices()))
def test_profile_and_recorded_device_agree(name: str) -> None:
    profile = load_device(name)
    recorded = _recorded(**profile.public_dict(), origin=profile.origin)  # what the runner writes
    assert recorded.pricing == pricing_basis(profile) == profile.pricing
    assert recorded.price_gap == price_gap(profile)


def test_bases_and_gaps_by_kind() -> None:
    assert _recorded(kind="local").pricing is None
    assert _recorded(kind="local", kwh_usd=0).pricing == "hardware"  # free electricity is a price
    assert _recorded().pricing is None  # a device that does not say its kind is local
    assert _recorded(kwh_usd=0.2).pricing == "hardware"
    assert _recorded(kind="rented", usd_per_hour=2.5).pricing == "rented"
    assert _recorded(kind="cloud", input_usd_per_mtok=1.0).pricing == "tokens"
    assert _recorded(kind="cloud", subscription_usd_per_month=10).pricing == "subscription"
    assert pricing_basis(auto_profile()) == "hardware"  # the US-average electricity price
    local = _recorded(kind="local").price_gap
    assert local is not None and "add price_usd" in local and "--kwh-usd" in local
    cloud = _recorded(kind="cloud").price_gap
    assert cloud is not None and "input_usd_per_mtok" in cloud and "price database" in cloud
    assert "usd_per_hour" in (_recorded(kind="rented").price_gap or "")
    assert _recorded(kind="cloud", input_usd_per_mtok=1.0).price_gap is None


def test_a_subscription_without_volume_is_told_the_volume_not_token_prices() -> None:
    plan = load_device("opencode-go-kimi-k2.5")
    assert plan.pricing == "subscription" and plan.tasks_per_month is None
    gap = _recorded(**plan.public_dict()).price_gap
    assert gap is not None and "tasks_per_month" in gap and "--tasks-per-month" in gap
    assert "input_usd_per_mtok" not in gap
    stated = plan.model_copy(update={"tasks_per_month": 1000})
    assert price_gap(stated) is None
