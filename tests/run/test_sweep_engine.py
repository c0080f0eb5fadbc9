"""Sweeps with the real engine: kill -9 and resume with no cell run twice, recorded failures, the table,
and a concurrency axis against a real ``llama_cpp.server`` over loopback."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from pathlib import Path

import pytest

from bench.results.bundle import read_bundle
from bench.results.sweep import read_sweep
from tests.helpers import FIXTURES, ROOT, run_cli
from tests.helpers.http import write_profile

pytestmark = pytest.mark.engine

SUITE = str(FIXTURES / "suites" / "sweep-tiny.toml")
_spec = importlib.util.spec_from_file_location("sweep_kill", ROOT / "tests" / "benchmarks" / "sweep_kill.py")
assert _spec is not None and _spec.loader is not None
sweep_kill = importlib.util.module_from_spec(_spec)
sys.modules["sweep_kill"] = sweep_kill
_spec.loader.exec_module(sweep_kill)


def test_kill_9_mid_sweep_then_resume_runs_no_cell_twice(tmp_path: Path) -> None:
    r = sweep_kill.measure(tmp_path, kills=1, seed=5)
    assert r["cells"] == 8 and r["kills"] == 1 and r["final_exit"] == 0, r
    assert r["all_done"] and r["cells_run_twice"] == [], r
    assert r["bundles_with_wrong_slots"] == [] and r["attempts_mismatch"] == [], r
    if r["kills_inside_a_cell"]:  # the kill landed inside a cell: that cell was resumed, not restarted twice
        assert r["cell_rounds_interrupted_and_resumed"] >= 1, r


def _sweep_dir(out: Path) -> Path:
    (found,) = [d for d in out.iterdir() if (d / "sweep.json").is_file()]
    return found


def test_a_cell_the_engine_refuses_is_a_recorded_failure_and_rounds_interleave(tmp_path: Path) -> None:
    proc = run_cli(
        "sweep", "--suite", SUITE, "--threads", "1,2", "--concurrency", "1,300", "-r", "2", "-w", "0",
        "--power", "none", "--seed", "4", "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr  # finished, but some cells failed
    doc = json.loads(proc.stdout)
    by_id = {c["id"]: c for c in doc["cells"]}
    assert [by_id[i]["status"] for i in ("c00", "c01", "c02", "c03")] == ["done", "failed", "done", "failed"]
    assert "holds at most 256 sequences" in by_id["c01"]["error"]
    assert by_id["c00"]["metrics"]["n"] == 4  # 2 tasks x 2 repetitions
    assert by_id["c00"]["metrics"]["decode_tps_mean"] > 0
    # one progress line per cell and round, the failures with their reason
    assert "round 2/2" in proc.stderr and "c01 threads=1 concurrency=300 failed: " in proc.stderr
    sweep_dir = _sweep_dir(tmp_path)
    m = read_sweep(sweep_dir)
    assert m.cell("c00").rounds_done == 2 and m.cell("c00").attempts == 2 and m.cell("c01").attempts == 1
    bundle = read_bundle(sweep_dir / m.cell("c00").path)
    assert bundle.manifest.complete and len(bundle.manifest.resumes) == 1  # round 2 appended to round 1
    assert sorted((r.task_id, r.repetition) for r in bundle.records) == [
        ("capital", 0), ("capital", 1), ("days", 0), ("days", 1)
    ]  # fmt: skip
    # the rounds interleave: c00's second repetition ran after c02's first
    other = read_bundle(sweep_dir / m.cell("c02").path)
    first_rep_c02 = max(r.started_utc for r in other.records if r.repetition == 0)
    assert min(r.started_utc for r in bundle.records if r.repetition == 1) > first_rep_c02
    # resuming a finished sweep runs nothing and prints the same table
    again = run_cli("sweep", "--resume", str(sweep_dir), "--json")
    assert again.returncode == 3 and json.loads(again.stdout)["cells"] == doc["cells"]
    assert read_sweep(sweep_dir).cell("c00").attempts == 2


def test_in_process_concurrency_cells_run_as_closed_loops(tmp_path: Path) -> None:
    """An in-process device at --concurrency 2: the cell runs N streams on one context (bench.run.batched),
    all its repetitions in round one, as load cells do."""
    proc = run_cli(
        "sweep", "--suite", SUITE, "--concurrency", "1,2", "-r", "2", "-w", "0", "--power", "none",
        "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cells = {c["id"]: c for c in json.loads(proc.stdout)["cells"]}
    assert [cells[i]["status"] for i in ("c00", "c01")] == ["done", "done"]
    assert cells["c01"]["metrics"]["output_tps_total"] > 0
    sweep_dir = _sweep_dir(tmp_path)
    m = read_sweep(sweep_dir)
    assert m.cell("c01").attempts == 1  # a load cell runs its repetitions in one session
    bundle = read_bundle(sweep_dir / m.cell("c01").path)
    assert bundle.manifest.settings.mode == "closed_loop" and bundle.manifest.settings.concurrency == 2
    windows = sorted((r.start_ns, r.end_ns) for r in bundle.records)
    assert len(windows) == 4 and any(b[0] < a[1] for a, b in itertools.pairwise(windows))


def test_concurrency_axis_over_a_real_llama_cpp_server(tmp_path: Path, llama_server: str) -> None:
    profile = write_profile(tmp_path / "server.toml", llama_server, model="smollm2")
    proc = run_cli(
        "sweep", "--suite", SUITE, "--device", str(profile), "--concurrency", "1,2", "-w", "0",
        "--power", "none", "--out", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cells = json.loads(proc.stdout)["cells"]
    assert [c["status"] for c in cells] == ["done", "done"]
    for c in cells:
        assert c["metrics"]["output_tps_total"] > 0 and c["metrics"]["e2e_p95_ms"] > 0
    m = read_sweep(_sweep_dir(tmp_path / "out"))
    loaded = read_bundle(_sweep_dir(tmp_path / "out") / m.cell("c01").path)
    assert loaded.manifest.settings.concurrency == 2 and loaded.manifest.settings.mode == "closed_loop"
