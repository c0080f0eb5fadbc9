from pathlib import Path

import pytest

from bench.errors import BundleError
from bench.results.sweep import SweepCell, SweepManifest, is_sweep_dir, read_sweep, write_sweep


def test_a_sweep_manifest_round_trips_and_names_its_cells(tmp_path: Path) -> None:
    cells = [
        SweepCell(id=f"c{i:02d}", settings={"threads": t}, path=f"cells/c{i:02d}")
        for i, t in enumerate([1, 2])
    ]
    m = SweepManifest(
        sweep_id="s1",
        created_utc="2026-11-28T00:00:00Z",
        suite="default",
        suite_hash="abc",
        device="auto",
        axes={"threads": [1, 2]},
        cells=cells,
        order=["c01", "c00"],
    )
    write_sweep(tmp_path, m)
    assert is_sweep_dir(tmp_path)
    back = read_sweep(tmp_path)
    assert back.cell("c01").settings == {"threads": 2} and back.order == ["c01", "c00"]
    assert back.cell("c00").status == "pending"


def test_a_broken_sweep_manifest_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a sweep directory"):
        read_sweep(tmp_path)
    (tmp_path / "sweep.json").write_text("{", encoding="utf-8")
    with pytest.raises(BundleError, match=r"sweep\.json"):
        read_sweep(tmp_path)
