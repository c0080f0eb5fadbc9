"""Crash safety, proven the hard way: SIGKILL a real run, then load and resume what it left.

A fast version of tests/benchmarks/chaos_kill.py (which does 20 seeded kills and reports the figure):
one kill before the bundle exists, two in the middle of the run. Each must lose no finished record,
leave a bundle that loads, and resume to exactly the slots of an uninterrupted run.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.engine  # real llama.cpp: runs the bundled model

_spec = importlib.util.spec_from_file_location("chaos_kill", ROOT / "tests" / "benchmarks" / "chaos_kill.py")
assert _spec is not None and _spec.loader is not None
chaos = importlib.util.module_from_spec(_spec)
sys.modules["chaos_kill"] = chaos  # dataclasses look their module up there
_spec.loader.exec_module(chaos)

REPS, WARMUP = 1, 1  # mini suite: 3 tasks x (1 + 1) = 6 records


def test_kill_before_the_bundle_exists_leaves_nothing_half_made(tmp_path: Path) -> None:
    r = chaos.kill_at(tmp_path, 0.3, REPS, WARMUP)  # still importing: no bundle, nothing finished
    assert r.phase == "before bundle" and r.finished_before_kill == 0 and r.lost == 0
    runs = tmp_path / "runs"
    assert not runs.exists() or not [d for d in runs.iterdir() if not d.name.startswith(".")]


@pytest.mark.parametrize("after", [1, 4])  # mid-way through the first task; before the third
def test_kill_mid_run_loses_nothing_and_resume_completes(tmp_path: Path, after: int) -> None:
    r = chaos.kill_after_records(tmp_path, after, REPS, WARMUP)
    assert r.loads is True, r
    assert r.finished_before_kill >= after and r.lost == 0, r
    assert r.records_on_disk >= r.finished_before_kill
    assert r.resumed_ok, r.notes
    assert r.records_after_resume == 6 and r.slots_match, r
