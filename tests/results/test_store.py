"""Bundle reading: versions, torn lines, corrupt lines, unknown fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import BundleError
from bench.results.bundle import BundleWriter, read_bundle
from bench.results.schema import SCHEMA_VERSION
from tests.helpers.records import manifest, record


def make(tmp_path: Path, n: int = 3) -> Path:
    w = BundleWriter(tmp_path / "r1", manifest())
    for i in range(n):
        w.append(record(i))
    w.close()
    return tmp_path / "r1"


def test_round_trip_and_frame(tmp_path: Path) -> None:
    b = read_bundle(make(tmp_path))
    assert [r.task_id for r in b.records] == ["t0", "t1", "t2"]
    frame = b.frame()
    assert list(frame["task_id"]) == ["t0", "t1", "t2"]
    assert b.manifest.schema_version == SCHEMA_VERSION


def test_run_id_resolves_under_root(tmp_path: Path) -> None:
    make(tmp_path)
    assert read_bundle("r1", runs_root=tmp_path).manifest.run_id == "r1"
    with pytest.raises(BundleError, match="no bundle 'r2'"):
        read_bundle("r2", runs_root=tmp_path)


def test_torn_last_line_is_dropped_with_warning(tmp_path: Path) -> None:
    path = make(tmp_path)
    with (path / "records.jsonl").open("a") as f:
        f.write('{"run_id": "r1", "task_id": "t3", "categ')
    with pytest.warns(UserWarning, match="torn last line"):
        b = read_bundle(path)
    assert len(b.records) == 3 and b.warnings


def test_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    path = make(tmp_path)
    lines = (path / "records.jsonl").read_text().splitlines()
    lines[1] = lines[1][:20]
    (path / "records.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(BundleError, match="line 2 is corrupt"):
        read_bundle(path)


def test_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    path = make(tmp_path)
    data = json.loads((path / "manifest.json").read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    (path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match="upgrade infercost"):
        read_bundle(path)
    data["schema_version"] = 0
    (path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match="unknown"):
        read_bundle(path)


def test_unknown_fields_are_ignored(tmp_path: Path) -> None:
    path = make(tmp_path, 1)
    line = json.loads((path / "records.jsonl").read_text())
    line["future_field"] = {"x": 1}
    (path / "records.jsonl").write_text(json.dumps(line) + "\n")
    assert read_bundle(path).records[0].task_id == "t0"


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a result bundle"):
        read_bundle(tmp_path)
