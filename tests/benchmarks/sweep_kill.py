"""Sweep figure: ``kill -9`` a sweep of 8 cells several times; ``--resume`` finishes it, no cell run twice.

This starts ``python -m bench sweep`` (the real CLI) on a tiny suite with a grid of 8 in-process cells
(``--threads 1,2 --n-ctx 512,1024 --flash-attn on,off``), SIGKILLs it at seeded moments (once one or two more
cells have ended, plus a random moment up to 2 s, so kills land inside cells and between them), then
``--resume``s it until it exits. A *witness* file, appended by the child when each cell (round) starts
and ends (the CLI's own one-line progress hook), says what every process ran. Checks:

1. the sweep finishes: every cell ``done``;
2. no cell was run twice: no cell (round) that had ended ``done`` was ever started again;
3. every cell's bundle holds exactly the slots of an uninterrupted run (no duplicate, none missing);
4. ``sweep.json``'s ``attempts`` of each cell equals the sessions the witness saw start for it (or one
   more: a kill between the manifest's write and the witness line).

    python tests/benchmarks/sweep_kill.py [--kills 3] [--seed 7] [--repetitions 1] [--out FILE]

``tests/run/test_sweep_engine.py`` runs it with one kill, so CI proves it on every change.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "fixtures" / "suites" / "sweep-tiny.toml"
GRID = ["--threads", "1,2", "--n-ctx", "512,1024", "--flash-attn", "on,off"]


def child_main(witness: str, argv: list[str]) -> int:
    """The real CLI, its per-cell progress hook also noting each cell (round) start and end."""
    sys.path.insert(0, str(ROOT))
    from bench.cli import app
    from bench.cli import sweep as sweep_cli

    fd = os.open(witness, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    base = sweep_cli._print_cell

    def hook(ev: Any) -> None:
        os.write(fd, f"{os.getpid()}\t{ev.kind}\t{ev.cell.id}\t{ev.round_index}\n".encode())
        base(ev)

    sweep_cli._print_cell = hook  # type: ignore[assignment]
    return app.main(argv)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def _spawn(witness: Path, argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__)), "--child", str(witness), "--", *argv],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _events(witness: Path) -> list[tuple[str, str, str, int]]:
    if not witness.exists():
        return []
    rows = [line.split("\t") for line in witness.read_text().splitlines() if line.count("\t") == 3]
    return [(pid, kind, cell, int(r)) for pid, kind, cell, r in rows]


def _sweep_dir(out: Path) -> Path | None:
    dirs = [d for d in out.iterdir() if (d / "sweep.json").is_file()] if out.exists() else []
    return dirs[0] if dirs else None


def measure(workdir: Path, kills: int, seed: int, repetitions: int = 1) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from bench.results.bundle import read_bundle
    from bench.results.sweep import read_sweep
    from bench.suite.loader import load_suite

    rng = random.Random(seed)
    out, witness = workdir / "sweeps", workdir / "witness.tsv"
    first = ["sweep", "--suite", str(SUITE), *GRID, "-r", str(repetitions), "-w", "0"]
    first += ["--power", "none", "--seed", str(seed), "--out", str(out)]
    t0 = time.monotonic()
    kill_log: list[dict[str, Any]] = []
    sessions = 0
    exit_code: int | None = None
    while True:
        sweep_dir = _sweep_dir(out)
        argv = first if sweep_dir is None else ["sweep", "--resume", str(sweep_dir)]
        child = _spawn(witness, argv)
        sessions += 1
        if len(kill_log) < kills:
            ends_before = sum(1 for e in _events(witness) if e[1] != "start")
            # kill once 1-2 more cells have ended, a random moment later (inside the next cell or between)
            target = ends_before + rng.randint(1, 2)
            extra = rng.uniform(0.0, 2.0)
            while child.poll() is None:
                if sum(1 for e in _events(witness) if e[1] != "start") >= target:
                    time.sleep(extra)
                    break
                time.sleep(0.01)
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                child.wait()
                ev = _events(witness)
                inside = bool(ev) and ev[-1][1] == "start"  # a cell had started and not ended
                kill_log.append({"after_ends": target, "delay_s": round(extra, 3), "inside_a_cell": inside})
                continue
        exit_code = child.wait(timeout=900)
        break
    wall_s = time.monotonic() - t0
    sweep_dir = _sweep_dir(out)
    assert sweep_dir is not None
    manifest = read_sweep(sweep_dir)
    events = _events(witness)
    # 2. a cell (round) that ended done was never started again
    rerun: list[str] = []
    ended: set[tuple[str, int]] = set()
    for _pid, kind, cell, rnd in events:
        if kind == "start" and (cell, rnd) in ended:
            rerun.append(f"{cell} round {rnd}")
        if kind in ("done", "round", "failed"):
            ended.add((cell, rnd))
    starts = Counter(cell for _p, kind, cell, _r in events if kind == "start")
    interrupted = Counter((cell, rnd) for _p, kind, cell, rnd in events if kind == "start")
    # 3. every bundle holds the slots of an uninterrupted run
    suite = load_suite(SUITE)
    expected = Counter((t.id, r, False) for t in suite.tasks for r in range(repetitions))
    slot_problems = []
    resumed_sessions = 0
    for cell in manifest.cells:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bundle = read_bundle(sweep_dir / cell.path)
        slots = Counter(
            (r.task_id, r.repetition, r.warmup) for r in bundle.records if r.status != "cancelled"
        )
        # sessions that continued a half-written bundle (run --resume semantics); R > 1 rounds resume too
        resumed_sessions += len(bundle.manifest.resumes)
        if slots != expected or not bundle.manifest.complete:
            slot_problems.append(cell.id)
    # a kill between sweep.json's write and the witness line leaves one attempt the witness did not see
    attempts_mismatch = [c.id for c in manifest.cells if not starts[c.id] <= c.attempts <= starts[c.id] + 1]
    return {
        "cells": len(manifest.cells),
        "repetitions": repetitions,
        "kills": len(kill_log),
        "sessions": sessions,
        "final_exit": exit_code,
        "all_done": all(c.status == "done" for c in manifest.cells),
        "cells_run_twice": rerun,
        "kills_inside_a_cell": sum(1 for k in kill_log if k["inside_a_cell"]),
        "cell_rounds_interrupted_and_resumed": sum(1 for n in interrupted.values() if n > 1),
        "bundle_resume_sessions": resumed_sessions,
        "bundles_with_wrong_slots": slot_problems,
        "attempts_mismatch": attempts_mismatch,
        "wall_s": round(wall_s, 1),
        "kill_log": kill_log,
        "seed": seed,
    }


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        return child_main(sys.argv[2], sys.argv[4:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repetitions", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="also write the result as JSON here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(tmp), args.kills, args.seed, args.repetitions)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    ok = (
        result["all_done"]
        and not result["cells_run_twice"]
        and not result["bundles_with_wrong_slots"]
        and not result["attempts_mismatch"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
