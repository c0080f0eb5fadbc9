"""Metric definitions against hand-computed examples."""

from __future__ import annotations

import pytest

from bench.results.metrics import derive_timing

MS = 1_000_000


def test_definitions_by_hand() -> None:
    # dispatch at 0; tokens at 100, 110, 125, 130 ms; stream ends at 130 ms; 4 tokens, 20 prompt tokens
    m = derive_timing(0, [100 * MS, 110 * MS, 125 * MS, 130 * MS], 130 * MS, 4, 20)
    assert m.ttft_ms == pytest.approx(100)
    assert m.e2e_ms == pytest.approx(130)
    assert m.itl_ms == pytest.approx([10, 15, 5])
    assert m.tpot_ms == pytest.approx((130 - 100) / 3)
    assert m.decode_tps == pytest.approx(3 / 0.030)
    assert m.prefill_tps == pytest.approx(20 / 0.100)


def test_token_count_can_exceed_content_events() -> None:
    # HTTP: 2 chunks carrying 6 tokens (server usage): rates use the token count, ITL the chunk gaps
    m = derive_timing(0, [50 * MS, 80 * MS], 80 * MS, 6, 10)
    assert m.itl_ms == pytest.approx([30])
    assert m.decode_tps == pytest.approx(5 / 0.030)


def test_single_token_and_no_tokens_have_no_rates() -> None:
    one = derive_timing(0, [40 * MS], 40 * MS, 1, 512)
    assert one.decode_tps is None and one.tpot_ms is None
    assert one.prefill_tps == pytest.approx(512 / 0.040)
    none = derive_timing(0, [], 10 * MS, 0, 5)
    assert none.ttft_ms is None and none.e2e_ms == pytest.approx(10) and none.prefill_tps is None
