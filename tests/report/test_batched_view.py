"""Parallel shapes in llama-batched-bench's table and depth labels, from a real bundle
(tests/fixtures/shape_bundles: `infercost run --suite depth -r 1 --warmup 0 --threads 1 --no-text`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.report.batched_view import BATCHED_HEADER, batched_markdown, batched_rows
from bench.report.summary import summarize
from bench.results.bundle import read_bundle
from tests.helpers import run_cli

BUNDLE = next((Path(__file__).resolve().parents[1] / "fixtures" / "shape_bundles").iterdir())


def test_rows_follow_llama_batched_bench_definitions() -> None:
    bundle = read_bundle(BUNDLE)
    rows = {r["b"]: r for r in batched_rows(bundle.records)}
    assert sorted(rows) == [1, 2, 4]
    for b, row in rows.items():
        rec = next(r for r in bundle.records if r.parallel_seqs == b)
        assert rec.pp_ms is not None and rec.tg_ms is not None
        assert (row["pp"], row["tg"], row["n_kv"]) == (128, 128, b * 256)
        assert row["s_tg_tps"] == pytest.approx(b * 128 / (rec.tg_ms / 1e3))
        assert row["s_pp_tps"] == pytest.approx(b * 128 / (rec.pp_ms / 1e3))
        assert row["t_s"] == pytest.approx((rec.pp_ms + rec.tg_ms) / 1e3)
        assert row["s_tps"] == pytest.approx(b * 256 / row["t_s"])


def test_summary_has_depth_labels_and_the_batched_table() -> None:
    bundle = read_bundle(BUNDLE)
    summary = summarize(bundle.records, bundle.manifest)
    tests = [r["test"] for r in summary["shapes"]]
    assert tests[:6] == ["pp512", "pp512 @ d1024", "pp512 @ d3072", "tg128", "tg128 @ d1024", "tg128 @ d3072"]
    text = batched_markdown(summary["batched"])
    header, _rule, *body = text.splitlines()
    assert [h.strip() for h in header.strip("|").split("|")] == BATCHED_HEADER
    assert len(body) == 3 and [c.strip() for c in body[2].split("|")[1:5]] == ["128", "128", "4", "1024"]


def test_markdown_and_html_reports_carry_the_table(tmp_path: Path) -> None:
    md, html = tmp_path / "r.md", tmp_path / "r.html"
    for out in (md, html):
        proc = run_cli("report", str(BUNDLE), "-o", str(out))
        assert proc.returncode == 0, proc.stderr
    text = md.read_text()
    assert "## Parallel sequences (llama-batched-bench)" in text
    assert "pp128+tg128 x4" in text and r"S\_TG t/s" in text
    assert "Parallel sequences (llama-batched-bench)" in html.read_text()
