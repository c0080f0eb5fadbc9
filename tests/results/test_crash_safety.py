"""Bundles survive what kills runs: a kill at any moment, a torn last line, a full or read-only disk.

Disk faults are real: a tiny tmpfs (full) and a read-only tmpfs, mounted for the test (skipped where the
test cannot mount, e.g. without root).
"""

from __future__ import annotations

import json
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.errors import BundleError, EnvironmentNotReady, UsageError
from bench.results.bundle import (
    BundleWriter,
    check_writable,
    effective_records,
    estimate_bundle_bytes,
    read_bundle,
)
from tests.helpers import ROOT, run_cli
from tests.helpers.records import manifest, record

MINI = str(ROOT / "tests" / "fixtures" / "suites" / "mini.toml")


def test_a_new_bundle_appears_with_its_manifest_or_not_at_all(tmp_path: Path) -> None:
    w = BundleWriter(tmp_path / "r1", manifest())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r1"]  # the .partial directory was renamed
    assert json.loads((tmp_path / "r1" / "manifest.json").read_text())["complete"] is False
    assert read_bundle(tmp_path / "r1").records == []  # loadable before the first record
    w.close()
    with pytest.raises(BundleError, match="already exists"):
        BundleWriter(tmp_path / "r1", manifest())


def test_reopening_cuts_a_torn_tail_so_appending_cannot_corrupt(tmp_path: Path) -> None:
    w = BundleWriter(tmp_path / "r1", manifest())
    for i in range(3):
        w.append(record(i))
    w.close()
    file = tmp_path / "r1" / "records.jsonl"
    with file.open("a") as f:
        f.write('{"run_id": "r1", "task_id": "t3", "categ')  # killed mid-write
    (tmp_path / "r1" / ".manifest.json.999.tmp").write_text("{")  # killed mid manifest write
    w2 = BundleWriter(tmp_path / "r1", manifest(), append=True)
    assert w2.repaired_bytes == len('{"run_id": "r1", "task_id": "t3", "categ')
    assert not list((tmp_path / "r1").glob(".*.tmp"))
    w2.append(record(3))
    w2.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torn-line warning: the file is clean
        b = read_bundle(tmp_path / "r1")
    assert [r.task_id for r in b.records] == ["t0", "t1", "t2", "t3"]


def test_reopening_needs_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a result bundle"):
        BundleWriter(tmp_path / "nothing", manifest(), append=True)


def test_cancelled_records_are_superseded_by_their_rerun() -> None:
    cancelled = record(1).model_copy(update={"status": "cancelled"})
    rerun = record(1)
    kept_cancel = record(2).model_copy(update={"status": "cancelled"})
    out = effective_records([record(0), cancelled, kept_cancel, rerun])
    assert [(r.task_id, r.status) for r in out] == [("t0", "ok"), ("t2", "cancelled"), ("t1", "ok")]


def test_estimate_scales_with_requests_and_tokens() -> None:
    assert estimate_bundle_bytes(0, 256) == 0
    assert estimate_bundle_bytes(100, 256) == 100 * estimate_bundle_bytes(1, 256)
    assert estimate_bundle_bytes(1, 4096) > estimate_bundle_bytes(1, 16)


@pytest.fixture()
def tmpfs(tmp_path: Path) -> Iterator[object]:
    mounted: list[Path] = []

    def mount(size: str, *, read_only: bool = False) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        opts = f"size={size}" + (",ro" if read_only else "")
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)], capture_output=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_full_disk_is_reported_before_the_run(tmpfs: object, tmp_path: Path) -> None:
    small = tmpfs("4m")  # type: ignore[operator]
    with pytest.raises(UsageError, match=r"only 4\.0 MiB free; this run needs about"):
        check_writable(small, estimate_bundle_bytes(1000, 256))
    proc = run_cli("run", "--suite", MINI, "-r", "1", "-w", "0", "--out", str(small / "runs"))
    assert proc.returncode == 2 and "MiB free" in proc.stderr and "--out" in proc.stderr
    assert "Traceback" not in proc.stderr and not list((small / "runs").iterdir())


def test_read_only_disk_is_reported_before_the_run(tmpfs: object) -> None:
    ro = tmpfs("1m", read_only=True)  # type: ignore[operator]
    proc = run_cli("run", "--suite", MINI, "--out", str(ro))
    assert proc.returncode == 2 and "not writable" in proc.stderr and "Read-only" in proc.stderr


def test_disk_filling_up_mid_run_keeps_what_was_written(tmpfs: object) -> None:
    tiny = tmpfs("64k")  # type: ignore[operator]
    w = BundleWriter(tiny / "r1", manifest())
    big = record(0).model_copy(update={"output_text": "x" * 4000})
    written = 0
    with pytest.raises(EnvironmentNotReady, match="cannot write a record") as info:
        for _ in range(100):
            w.append(big)
            written += 1
    w.close()
    assert "infercost run --resume" in str(info.value) and info.value.exit_code == 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = read_bundle(tiny / "r1")  # what reached the disk still loads
    assert 0 < len(b.records) <= written
