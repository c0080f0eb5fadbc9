"""Migration 2: a database made before depth and parallel shapes takes their records, keeps the old ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.results.bundle import read_bundle
from bench.results.db import embedded, mapping, schema, store
from bench.results.db.embedded import open_embedded
from bench.results.db.filters import parse_where
from bench.results.db.url import parse_store_url
from tests.helpers.db import make_bundle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shape_bundles"
SHAPE_FIELDS = ("depth_tokens", "depth_ms", "parallel_seqs", "shared_prompt", "n_kv_tokens", "pp_ms", "tg_ms")


def _as_version_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """This infercost as it was at database schema 1: one migration, the records columns of then."""
    later = (*SHAPE_FIELDS, "ttft_thinking_ms", "turn", "calls")  # migrations 2, 3 and 4
    v1 = tuple(n for n, _ in schema.RECORD_COLUMNS if n not in later)
    table = ("run_id", "content_sha256", "seq", *v1)
    monkeypatch.setattr(store, "MIGRATIONS", schema.MIGRATIONS[:1])
    monkeypatch.setattr(store, "DB_SCHEMA_VERSION", 1)
    monkeypatch.setattr(mapping, "RECORD_COLUMN_NAMES", v1)
    monkeypatch.setattr(store, "RECORD_TABLE_COLUMNS", table)
    monkeypatch.setattr(embedded, "RECORD_TABLE_COLUMNS", table)


def test_an_old_database_migrates_and_takes_shape_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = parse_store_url(f"duckdb:{tmp_path / 'x.duckdb'}")
    runs = tmp_path / "runs"
    make_bundle(runs, "r-old")
    with monkeypatch.context() as m:
        _as_version_1(m)
        with open_embedded(url) as old:
            old.sync(runs)
            assert old.version() == 1
            cols = {r[0] for r in old.query("SELECT column_name FROM information_schema.columns "
                                              "WHERE table_name = 'records'").rows}  # fmt: skip
            assert "parallel_seqs" not in cols
    # a bundle with parallel and depth records, made by `infercost run --suite depth`
    shutil.copytree(next(FIXTURES.iterdir()), runs / "r-shapes")
    with open_embedded(url) as new:
        assert new.version() == schema.DB_SCHEMA_VERSION == 5
        result = new.sync(runs)  # migration 5 forgot the fingerprints: r-old is seen again, not re-stored
        assert result.push.stored == [_fixture_run_id()] and result.push.skipped == ["r-old"]
        rows = new.query(
            "SELECT shape, parallel_seqs, n_kv_tokens, depth_tokens FROM current_records "
            "WHERE parallel_seqs IS NOT NULL OR depth_tokens IS NOT NULL ORDER BY shape"
        ).rows
        assert ("pp128+tg128 x4", 4, 4 * 256, None) in [tuple(r) for r in rows]
        assert any(r[0] == "pp512 @ d3072" and r[3] == 3072 for r in rows)
        by_id = {row[0]: row for row in new.runs(parse_where([])).rows}
        old_back = new.load_bundle(by_id["r-old"][0], by_id["r-old"][1])
        shapes_back = new.load_bundle(by_id[_fixture_run_id()][0], by_id[_fixture_run_id()][1])
    assert all(getattr(r, f) is None for r in old_back.records for f in SHAPE_FIELDS)
    orig = read_bundle(next(FIXTURES.iterdir()))
    assert [r.model_dump() for r in shapes_back.records] == [r.model_dump() for r in orig.records]


def _fixture_run_id() -> str:
    return read_bundle(next(FIXTURES.iterdir())).manifest.run_id
