"""The decode roofline: bound, ratio, flags (cache vs error, configuration smell), omitted reasons."""

from __future__ import annotations

import pytest

from bench.cost.enrich import EnrichOptions
from bench.cost.roofline import assess, roofline
from bench.devices.profiles import _size_bytes, auto_profile, last_level_cache_bytes
from tests.helpers.cost import device_manifest, manifest_for, record

MIB = 2**20


def test_within_the_usual_range() -> None:
    # 102 GB/s ÷ 4.0e9 B = 25.5 tok/s bound; 19.1 measured → 74.9%
    r = assess(19.1, 102, 4_000_000_000)
    assert r["bound_tps"] == pytest.approx(25.5)
    assert r["ratio"] == pytest.approx(19.1 / 25.5)
    assert r["flag"] is None and "45–90%" in r["verdict"]


def test_above_bound_model_in_cache() -> None:
    # a 20 MiB model in a 32 MiB L3: 20 GB/s ÷ 20,971,520 B = 953.7 tok/s bound; 1500 measured
    r = assess(1500, 20, 20 * MIB, llc_bytes=32 * MIB)
    assert r["ratio"] > 1 and r["flag"] == "fits_in_cache"
    assert "fits in the last-level cache" in r["verdict"] and "does not apply" in r["verdict"]


def test_above_bound_model_larger_than_cache_is_an_error() -> None:
    r = assess(300, 20, 98 * MIB, llc_bytes=32 * MIB)  # bound 194.6 tok/s
    assert r["flag"] == "measurement_error" and "measurement error" in r["verdict"]
    assert assess(300, 20, 98 * MIB, llc_bytes=None)["flag"] == "above_bound"
    assert assess(300, 20, 98 * MIB, llc_bytes=32 * MIB, on_gpu=True)["flag"] == "measurement_error"


def test_below_thirty_percent_is_a_configuration_smell() -> None:
    r = assess(5.0, 102, 4_000_000_000)  # 5 / 25.5 = 19.6%
    assert r["flag"] == "low" and "configuration smell" in r["verdict"]


def test_summary_block_sources_and_omissions() -> None:
    recs = [record(decode_tps=100.0), record(decode_tps=110.0), record(decode_tps=999.0, warmup=True)]
    model = {"tensor_bytes": 100_000_000}
    m = device_manifest("jetson-orin-nano-super", model=model)
    r = roofline(recs, m)
    # 102e9 / 1e8 = 1020 tok/s bound; mean of measured 105 → 10.3%
    assert r["status"] == "ok" and r["bandwidth_from"] == "profile"
    assert r["bound_tps"] == pytest.approx(1020) and r["ratio"] == pytest.approx(105 / 1020)
    assert r["llc_bytes"] == 32 * MIB
    auto = manifest_for(auto_profile(), model=model)
    omitted = roofline(recs, auto)
    assert omitted["status"] == "omitted" and "--memory-bandwidth-gbs" in omitted["fix"]
    ran = manifest_for(auto_profile(), model=model, settings={"memory_bandwidth_gbs": 20.0})
    assert roofline(recs, ran)["bandwidth_from"] == "run --memory-bandwidth-gbs"
    assert roofline(recs, ran, EnrichOptions(memory_bandwidth_gbs=40))["bound_tps"] == pytest.approx(400)
    assert "model size is unknown" in roofline(recs, device_manifest("jetson-orin-nano-super"))["reason"]
    assert "cloud" in roofline(recs, device_manifest("openai-gpt-4o-mini"))["reason"]


def test_cache_size_parsing() -> None:
    assert _size_bytes("32768K") == 32 * MIB
    assert _size_bytes("1M\n") == MIB and _size_bytes("512") == 512 and _size_bytes("x") is None


def test_last_level_cache_of_this_machine() -> None:
    llc = last_level_cache_bytes()
    if llc is None:
        pytest.skip("this machine's sysfs reports no cache sizes")
    assert llc >= 64 * 1024  # an L2 or L3 is at least this large on anything that runs llama.cpp
