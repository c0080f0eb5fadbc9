"""Minimal valid manifests and records, for tests that need a bundle's parts without a run."""

from __future__ import annotations

import time
from pathlib import Path

from bench.results.schema import Manifest, Record

__all__ = ["manifest", "record", "wait_for_records"]


def manifest(run_id: str = "r1") -> Manifest:
    return Manifest(
        tool_version="0",
        run_id=run_id,
        started_utc="2026-11-26T00:00:00Z",
        anchor_perf_ns=0,
        host={},
        device={"name": "d"},
        backend={"name": "llama_cpp"},
        suite={"name": "s", "hash": "h"},
        settings={},
    )


def record(i: int) -> Record:
    return Record(
        run_id="r1",
        task_id=f"t{i}",
        category="c",
        repetition=0,
        warmup=False,
        status="ok",
        started_utc="2026-11-26T00:00:00Z",
        start_ns=i,
        end_ns=i + 1,
        ttft_ms=1.0,
        e2e_ms=2.0,
    )


def wait_for_records(out: Path, n: int, timeout_s: float = 120.0, poll_s: float = 0.05) -> Path | None:
    """The ``records.jsonl`` of the one bundle under ``out`` once it holds ``n`` lines (None at the
    deadline): the moment a Ctrl-C test interrupts a run that has finished some requests."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = list(out.glob("*/records.jsonl"))
        if found and found[0].read_text().count("\n") >= n:
            return found[0]
        time.sleep(poll_s)
    return None
