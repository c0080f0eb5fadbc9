"""Chaos figure: ``kill -9`` a run at random moments; nothing finished is lost and ``--resume`` completes it.

For each of N seeded moments spread over the length of an uninterrupted run, this starts
``python -m bench run`` on a small suite, sends SIGKILL at that moment, and then checks:

1. the bundle (if the run got far enough to create one) loads with ``read_bundle``;
2. zero finished records were lost: a *witness* file, written by the child right after each record's
   append returned (from the runner's ``request_end`` progress event), lists every request the process
   had finished; each of them must be in the loaded bundle;
3. ``python -m bench run --resume DIR`` exits 0 and leaves a complete bundle with exactly the slots
   (task, repetition, warmup) of an uninterrupted run: same record count, no duplicates, none missing.

The child is the real CLI (``bench.cli.app.main``) with only its progress view wrapped to write the witness.

    python tests/benchmarks/chaos_kill.py [--kills 20] [--seed 7] [--repetitions 3] [--out FILE]

``tests/run/test_chaos.py`` runs the same check with a few kills, so CI proves it on every change.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "fixtures" / "suites" / "mini.toml"


# ------------------------------------------------------------------------------------------ child
def child_main(witness: str, argv: list[str]) -> int:
    """Run the real CLI; after each finished request (its record already appended) note its slot."""
    sys.path.insert(0, str(ROOT))
    from bench.cli import app, run

    fd = os.open(witness, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    base_call = run.ProgressView.__call__

    def call(self: Any, ev: Any) -> None:
        base_call(self, ev)
        if ev.kind == "request_end":
            os.write(fd, f"{ev.task_id}\t{ev.repetition}\t{int(ev.warmup)}\n".encode())

    run.ProgressView.__call__ = call  # type: ignore[method-assign]
    return app.main(argv)


# ------------------------------------------------------------------------------------------ parent
@dataclass
class KillResult:
    delay_s: float
    phase: str  # "before bundle", "during run", "after finish"
    finished_before_kill: int
    records_on_disk: int
    lost: int
    torn_line: bool
    loads: bool | None  # None: the kill came before the bundle existed
    resumed_ok: bool | None
    records_after_resume: int | None
    slots_match: bool | None
    notes: list[str] = field(default_factory=list)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def run_args(out: Path, repetitions: int, warmup: int) -> list[str]:
    return ["run", "--suite", str(SUITE), "-r", str(repetitions), "-w", str(warmup), "--out", str(out)]


def expected_slots(repetitions: int, warmup: int) -> Counter[tuple[str, int, bool]]:
    sys.path.insert(0, str(ROOT))
    from bench.suite.loader import load_suite

    suite = load_suite(SUITE)
    slots: Counter[tuple[str, int, bool]] = Counter()
    for t in suite.tasks:
        slots.update((t.id, w, True) for w in range(warmup))
        slots.update((t.id, r, False) for r in range(repetitions))
    return slots


def _bundles(out: Path) -> list[Path]:
    return [d for d in out.iterdir() if d.is_dir() and not d.name.startswith(".")] if out.exists() else []


def spawn_child(out: Path, witness: Path, repetitions: int, warmup: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__)),
            "--child",
            str(witness),
            "--",
            *run_args(out, repetitions, warmup),
        ],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def check_after_kill(
    out: Path, witness: Path, repetitions: int, warmup: int, delay_s: float, exited_before_kill: bool
) -> KillResult:
    sys.path.insert(0, str(ROOT))
    from bench.results.bundle import read_bundle

    finished = (
        [tuple(line.split("\t")) for line in witness.read_text().splitlines()] if witness.exists() else []
    )
    finished_slots = {(t, int(r), w == "1") for t, r, w in finished}
    bundles = _bundles(out)
    if len(bundles) > 1:
        raise AssertionError(f"one run made {len(bundles)} bundles: {bundles}")
    phase = "after finish" if exited_before_kill else ("during run" if bundles else "before bundle")
    if not bundles:
        return KillResult(delay_s, phase, len(finished), 0, len(finished), False, None, None, None, None)
    bundle_dir = bundles[0]
    raw = (bundle_dir / "records.jsonl").read_bytes() if (bundle_dir / "records.jsonl").exists() else b""
    torn = bool(raw) and not raw.endswith(b"\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle = read_bundle(bundle_dir)  # raises if the bundle does not load
    on_disk = {(r.task_id, r.repetition, r.warmup) for r in bundle.records}
    lost = len(finished_slots - on_disk)
    result = KillResult(
        delay_s, phase, len(finished), len(bundle.records), lost, torn, True, None, None, None
    )
    if bundle.manifest.complete:
        result.notes.append("the run had completed before the kill")
        result.resumed_ok, result.records_after_resume = True, len(bundle.records)
        result.slots_match = Counter((r.task_id, r.repetition, r.warmup) for r in bundle.records) == (
            expected_slots(repetitions, warmup)
        )
        return result
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--resume", str(bundle_dir), "--json"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    result.resumed_ok = proc.returncode == 0
    if proc.returncode != 0:
        result.notes.append(f"resume exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        return result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = read_bundle(bundle_dir)
    slots = Counter((r.task_id, r.repetition, r.warmup) for r in done.records)
    result.records_after_resume = len(done.records)
    result.slots_match = done.manifest.complete and slots == expected_slots(repetitions, warmup)
    return result


def kill_at(workdir: Path, delay_s: float, repetitions: int, warmup: int) -> KillResult:
    out, witness = workdir / "runs", workdir / "witness.tsv"
    child = spawn_child(out, witness, repetitions, warmup)
    deadline = time.monotonic() + delay_s
    while time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.005)
    exited = child.poll() is not None
    if not exited:
        child.send_signal(signal.SIGKILL)
    child.wait()
    return check_after_kill(out, witness, repetitions, warmup, delay_s, exited)


def kill_after_records(workdir: Path, n_records: int, repetitions: int, warmup: int) -> KillResult:
    """Kill as soon as the witness shows ``n_records`` finished requests (for deterministic tests)."""
    out, witness = workdir / "runs", workdir / "witness.tsv"
    child = spawn_child(out, witness, repetitions, warmup)
    t0 = time.monotonic()
    while child.poll() is None and time.monotonic() - t0 < 300:
        if witness.exists() and witness.read_text().count("\n") >= n_records:
            break
        time.sleep(0.002)
    exited = child.poll() is not None
    if not exited:
        child.send_signal(signal.SIGKILL)
    child.wait()
    return check_after_kill(out, witness, repetitions, warmup, time.monotonic() - t0, exited)


def reference_seconds(repetitions: int, warmup: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "bench", *run_args(Path(tmp), repetitions, warmup)],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            check=True,
        )
        return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    total = reference_seconds(args.repetitions, args.warmup)
    rng = random.Random(args.seed)
    delays = sorted(round(rng.uniform(0, total), 3) for _ in range(args.kills))
    n_expected = sum(expected_slots(args.repetitions, args.warmup).values())
    print(f"uninterrupted run: {total:.1f} s, {n_expected} records; killing at {args.kills} seeded moments")
    results = []
    for i, delay in enumerate(delays):
        with tempfile.TemporaryDirectory() as tmp:
            r = kill_at(Path(tmp), delay, args.repetitions, args.warmup)
        results.append(r)
        print(
            f"{i + 1:2d}. kill at {delay:6.2f} s  {r.phase:13s}  finished {r.finished_before_kill:2d}  "
            f"on disk {r.records_on_disk:2d}  lost {r.lost}  torn {'yes' if r.torn_line else 'no '}  "
            f"resume {'-' if r.resumed_ok is None else ('ok' if r.resumed_ok else 'FAILED')}  "
            f"records {r.records_after_resume if r.records_after_resume is not None else '-'}  "
            f"{'match' if r.slots_match else ('-' if r.slots_match is None else 'MISMATCH')} {' '.join(r.notes)}"
        )
    resumable = [r for r in results if r.resumed_ok is not None]
    summary = {
        "kills": len(results),
        "uninterrupted_s": round(total, 2),
        "expected_records": n_expected,
        "phases": dict(Counter(r.phase for r in results)),
        "bundles_left": sum(r.loads is not None for r in results),
        "bundles_loaded": sum(bool(r.loads) for r in results),
        "records_lost": sum(r.lost for r in results),
        "torn_lines": sum(r.torn_line for r in results),
        "resumed_ok": sum(bool(r.resumed_ok) for r in resumable),
        "resumed_to_same_records": sum(bool(r.slots_match) for r in resumable),
        "with_bundle": len(resumable),
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "kills": [asdict(r) for r in results]}, indent=2))
    ok = summary["records_lost"] == 0 and summary["resumed_to_same_records"] == summary["with_bundle"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sep = sys.argv.index("--")
        sys.exit(child_main(sys.argv[2], sys.argv[sep + 1 :]))
    main()
