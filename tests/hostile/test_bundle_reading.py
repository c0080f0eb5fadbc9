"""Bundles are read like suites: a manifest, records file or power trace that is a FIFO, a device or a
link to one is refused (or, for the power trace, left out with a note) at once — never waited on or read
until memory runs out."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from bench.errors import BundleError
from bench.results.bundle import MAX_RECORDS_BYTES, read_bundle
from tests.helpers import FIXTURES, run_cli


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    dst = tmp_path / "b"
    shutil.copytree(FIXTURES / "bundles" / "smollm2-mini-priced", dst)
    return dst


def _special(path: Path, kind: str) -> None:
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("name", ["manifest.json", "records.jsonl"])
@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_special_bundle_files_are_refused_at_once(bundle: Path, name: str, kind: str) -> None:
    _special(bundle / name, kind)
    t0 = time.monotonic()
    with pytest.raises(BundleError, match="not a regular file"):
        read_bundle(bundle)
    proc = run_cli("report", str(bundle))
    assert proc.returncode == 2 and "not a regular file" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - t0 < 60


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_special_power_trace_is_left_out(bundle: Path, tmp_path: Path, kind: str) -> None:
    _special(bundle / "power.csv", kind)
    t0 = time.monotonic()
    for args in ([], ["-o", str(tmp_path / "r.html")]):  # the summary, and the report with its charts
        proc = run_cli("report", str(bundle), *args)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert time.monotonic() - t0 < 90


def test_a_manifest_naming_a_special_external_trace_is_refused(bundle: Path) -> None:
    (bundle / "power.csv").unlink()
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["power"] = {**(manifest.get("power") or {}), "sensor": "csv:/dev/zero", "file": "/dev/zero",
                         "kind": "power", "anchor_wall_ns": 0, "anchor_perf_ns": 0}  # fmt: skip
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    proc = run_cli("report", str(bundle))
    assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0 or "not a regular file" in proc.stderr


def test_an_oversized_records_file_is_refused_without_reading_it(bundle: Path) -> None:
    with (bundle / "records.jsonl").open("r+b") as f:
        f.truncate(MAX_RECORDS_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(BundleError, match="over the 4096 MiB limit"):
        read_bundle(bundle)
