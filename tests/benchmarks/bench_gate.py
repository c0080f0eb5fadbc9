"""Figures for the CI gate and the pytest plugin (run by hand; not part of the test suite).

    python tests/benchmarks/bench_gate.py [--rounds N]

1. ``infercost gate`` wall time on the recorded fixture bundles (a child process, as CI runs it), and the
   in-process time of reading + enriching + summarizing + evaluating.
2. What the installed-but-inactive plugin costs every pytest session: ``pytest --collect-only`` on a
   one-test project with and without ``-p bench.ci.pytest_plugin``, interleaved round by round.
3. How closely pytest-benchmark's timer (the plugin's latency figure) agrees with the records' own
   ``e2e_ms`` for the same requests: per task, the two medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = ROOT / "tests" / "fixtures" / "gate_bundles"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
RULES = '[absolute]\npass_rate = ">= 50%"\n[relative]\ndecode_tps = "-5%"\nttft_p95_ms = "+10%"\n'


def timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, check=False)
    return time.perf_counter() - t0


def gate_figures(rounds: int, tmp: Path) -> None:
    rules = tmp / "gate.toml"
    rules.write_text(RULES)
    cmd = [sys.executable, "-m", "bench", "gate", str(BUNDLES / "regression"), "--rules", str(rules)]
    cmd += ["--baseline", str(BUNDLES / "baseline")]
    walls = [timed(cmd, ROOT) for _ in range(rounds)]
    sys.path.insert(0, str(ROOT))
    from bench.ci.gate import evaluate_gate, load_rules, load_run

    inproc = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        evaluate_gate(load_rules(rules), load_run(BUNDLES / "regression"), load_run(BUNDLES / "baseline"))
        inproc.append(time.perf_counter() - t0)
    print(f"gate CLI wall (2 bundles x 18 records, 3 rules): median {statistics.median(walls) * 1e3:.0f} ms "
          f"(min {min(walls) * 1e3:.0f}, max {max(walls) * 1e3:.0f}, n={rounds})")  # fmt: skip
    print(
        f"gate in-process (read+enrich+summarize+evaluate): median {statistics.median(inproc) * 1e3:.1f} ms"
    )


def inactive_plugin_figures(rounds: int, tmp: Path) -> None:
    proj = tmp / "proj"
    proj.mkdir()
    (proj / "test_one.py").write_text("def test_one():\n    assert True\n")
    base = [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider"]
    with_plugin, without = [], []
    for _ in range(rounds):
        with_plugin.append(timed([*base, "-p", "bench.ci.pytest_plugin"], proj))
        without.append(timed(base, proj))
    a, b = statistics.median(with_plugin), statistics.median(without)
    print(f"pytest --collect-only, plugin inactive: median {a * 1e3:.0f} ms vs {b * 1e3:.0f} ms without "
          f"(difference {(a - b) * 1e3:+.0f} ms, n={rounds} interleaved)")  # fmt: skip


def timer_agreement(tmp: Path) -> None:
    proj = tmp / "timer"
    proj.mkdir()
    # inside the project: pytest picks its rootdir (and ini addopts) from paths among the arguments
    suite = proj / "mini.toml"
    suite.write_text((ROOT / "tests" / "fixtures" / "suites" / "mini.toml").read_text())
    out = proj / "bench.json"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "bench.ci.pytest_plugin", "-p", "no:cacheprovider",
           "--infercost-suite", suite.name, "--infercost-model", "smollm2-135m", "--infercost-repetitions", "5",
           "--infercost-out", "runs", f"--benchmark-json={out}"]  # fmt: skip
    subprocess.run(cmd, cwd=proj, env=ENV, capture_output=True, check=False)
    sys.path.insert(0, str(ROOT))
    from bench.results.bundle import read_bundle

    doc = json.loads(out.read_text())
    bundle = read_bundle(next((proj / "runs").iterdir()))
    for b in doc["benchmarks"]:
        e2e = [r.e2e_ms for r in bundle.records if r.task_id == b["name"] and not r.warmup and r.e2e_ms]
        rec_ms, bench_ms = statistics.median(e2e), b["stats"]["median"] * 1e3
        print(f"  {b['name']:<12} pytest-benchmark median {bench_ms:8.2f} ms, records' e2e median "
              f"{rec_ms:8.2f} ms, difference {bench_ms - rec_ms:+.2f} ms, rounds {b['stats']['rounds']}")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--only", choices=["gate", "plugin", "timer"], default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.only in (None, "gate"):
            gate_figures(args.rounds, tmp)
        if args.only in (None, "plugin"):
            inactive_plugin_figures(args.rounds, tmp)
        if args.only not in (None, "timer"):
            return
        print("pytest-benchmark timer vs records (mini suite, SmolLM2-135M, 5 rounds):")
        timer_agreement(tmp)


if __name__ == "__main__":
    main()
