"""Figures for the answer sandbox (issue 12): what one python-test check and one regex check cost.

1. Sandbox start-up overhead per python-test check: wall time of ``run_python("pass")`` with Linux
   namespaces (user, net, mount, PID; read-only remount; fresh /proc) and without, against a bare
   ``subprocess.run([python, -I, -S, -B, -c, "pass"])``, interleaved round by round. The difference is the
   sandbox's own cost per check (launcher interpreter, namespaces, mounts, cgroup, supervision).
2. A regex check under its deadline (a forked child per match) against a bare in-process ``re.search``.

This 2-core VM is shared and noisy: medians of interleaved rounds.

    python tests/benchmarks/bench_sandbox.py [--rounds 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.sandbox import Limits, run_python  # noqa: E402
from bench.suite.checks import regex_hit  # noqa: E402


def _ms(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return (time.perf_counter() - t0) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    limits = Limits(timeout_s=10)
    isolation = run_python("pass", limits).isolation.describe()
    bare, with_ns, without_ns, regex_fork, regex_bare = [], [], [], [], []
    for _ in range(args.rounds):
        bare.append(_ms(lambda: subprocess.run([sys.executable, "-I", "-S", "-B", "-c", "pass"], check=True)))
        with_ns.append(_ms(lambda: run_python("pass", limits)))
        without_ns.append(_ms(lambda: run_python("pass", limits, namespaces=False)))
        regex_fork.append(_ms(lambda: regex_hit(r"\bParis\b", re.I, "The capital is Paris.", False, 1.0)))
        regex_bare.append(_ms(lambda: re.search(r"\bParis\b", "The capital is Paris.", re.I)))
    med = statistics.median
    result = {
        "machine": f"{platform.node()} {platform.machine()} ({platform.platform()})",
        "rounds": args.rounds,
        "isolation": isolation,
        "bare_python_ms": round(med(bare), 2),
        "sandbox_namespaces_ms": round(med(with_ns), 2),
        "sandbox_fallback_ms": round(med(without_ns), 2),
        "overhead_namespaces_ms": round(med(with_ns) - med(bare), 2),
        "overhead_fallback_ms": round(med(without_ns) - med(bare), 2),
        "regex_deadline_ms": round(med(regex_fork), 3),
        "regex_in_process_ms": round(med(regex_bare), 4),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
