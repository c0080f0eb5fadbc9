"""Public benchmarks as suites: the figures issue 21 names, measured (docs/figures.md, docs/benchmarks.md).

    python tests/benchmarks/bench_public_suites.py load          # loading each suite, median of 5
    python tests/benchmarks/bench_public_suites.py humaneval     # 164 canonical solutions (and 164 stubs)
    python tests/benchmarks/bench_public_suites.py agreement     # cases judged by ours and BFCL's scorers
    python tests/benchmarks/bench_public_suites.py runs DIR...   # pass rate, $/success local vs priced cloud
    python tests/benchmarks/bench_public_suites.py record DIR... # recorded replies → the agreement fixtures

Every figure is printed as JSON with the machine's load average beside it (this 2-core VM is shared:
timings move with the load); ``--out FILE`` also writes it. ``record`` writes
``tests/fixtures/bfcl/recorded.json`` (every reply of the given runs' BFCL bundles with both verdicts) and
``tests/fixtures/humaneval/recorded.json`` (every answer of their HumanEval bundles).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.cost.enrich import enrich  # noqa: E402
from bench.report.benchmarks import source_text  # noqa: E402
from bench.report.summary import summarize  # noqa: E402
from bench.results import stats  # noqa: E402
from bench.results.bundle import read_bundle  # noqa: E402
from bench.results.schema import HygieneFacts, task_level  # noqa: E402
from bench.suite.checks import evaluate  # noqa: E402
from bench.suite.sources import load_source_suite, source_suite_names  # noqa: E402
from bench.suite.sources.bfcl import MULTI_TURN, SINGLE_TURN  # noqa: E402
from tests.helpers import bfcl_authors as authors  # noqa: E402
from tests.helpers import bfcl_cases as cases  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "bfcl" / "recorded.json"
HUMANEVAL_FIXTURE = ROOT / "tests" / "fixtures" / "humaneval" / "recorded.json"


def _load() -> list[float]:
    return [float(x) for x in os.getloadavg()]


def load_times(rounds: int = 5) -> dict[str, Any]:
    out = {}
    before = _load()
    for name in source_suite_names():
        times, cpu = [], []
        for _ in range(rounds):
            t0, c0 = time.perf_counter(), time.process_time()
            suite = load_source_suite(name)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        out[name] = {
            "tasks": len(suite.tasks),
            "median_s": round(statistics.median(times), 3),
            "max_s": round(max(times), 3),
            "median_cpu_s": round(statistics.median(cpu), 3),
        }
    return {
        "figure": "loading each suite (median of 5): wall, and this process's CPU time (what the load steals)",
        "load_avg_before": before,
        "load_avg_after": _load(),
        "suites": out,
    }


def humaneval_canonical() -> dict[str, Any]:
    suite = load_source_suite("humaneval", prompt_style="completion")
    before = _load()
    t0 = time.perf_counter()
    canonical = sum(bool(evaluate(t.check, t.reference or "").passed) for t in suite.tasks)
    canonical_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    stub = sum(bool(evaluate(t.check, "    return None\n").passed) for t in suite.tasks)
    stub_s = time.perf_counter() - t0
    return {
        "figure": "HumanEval through the sandbox, sequential",
        "canonical_passed": canonical, "canonical_s": round(canonical_s, 1),
        "stub_passed": stub, "stub_s": round(stub_s, 1), "tasks": len(suite.tasks),
        "load_avg_before": before, "load_avg_after": _load(),
    }  # fmt: skip


@functools.cache
def _tasks(category: str) -> dict[str, Any]:
    return {t.id: t for t in cases.suite(category).tasks}


@functools.cache
def _entries(category: str) -> dict[str, Any]:
    return {e["id"]: e for e in authors.load_entries(category)[0]}


def _recorded_agrees(case: dict[str, Any]) -> bool:
    """A recorded reply judged again, now, by ours and BFCL's: both equal the verdict the run recorded."""
    task = _tasks(case["category"])[case["task_id"]]
    if case["category"] in MULTI_TURN:
        turns = [[[(c[0], c[1]) for c in step] for step in turn] for turn in case["turns"]]
        entry = _entries(case["category"])[task.id]
        ours, theirs = cases.ours_multi(task, turns), cases.theirs_multi(entry, task, turns)
    else:
        calls = [(c["name"], c["arguments"]) for c in case["calls"]]
        ours, theirs = cases.ours(task.check, calls), cases.theirs(task.check, calls)
    return bool(ours == theirs == case["recorded_verdict"])


def agreement() -> dict[str, Any]:
    """Every case of the agreement tests, counted: reference answers, mutations, disagreements (every
    entry of every offered category; the tests sample the multi-turn categories after the first)."""
    before, t0 = _load(), time.perf_counter()
    single: dict[str, Any] = {}
    for category in SINGLE_TURN:
        n = disagree = reference_pass = 0
        suite = cases.suite(category)
        for task in suite.tasks:
            reference = cases.reference(task.check)
            for label, calls in [("reference", reference), *cases.mutations(task.check, reference)]:
                ours, theirs = cases.ours(task.check, calls), cases.theirs(task.check, calls)
                n += 1
                disagree += ours != theirs
                reference_pass += label == "reference" and ours
        single[category] = {"entries": len(suite.tasks), "cases": n, "disagreements": disagree,
                            "reference_passed": reference_pass}  # fmt: skip
    multi: dict[str, Any] = {}
    for category in MULTI_TURN:
        entries, _ = authors.load_entries(category)
        n = disagree = reference_pass = 0
        for entry, task in zip(entries, cases.suite(category).tasks, strict=True):
            turns = cases.trajectory(task)
            for label, case in [("reference", turns), *cases.multi_mutations(task, turns)]:
                ours, theirs = cases.ours_multi(task, case), cases.theirs_multi(entry, task, case)
                n += 1
                disagree += ours != theirs
                reference_pass += label == "reference" and ours
        multi[category] = {"entries": len(entries), "cases": n, "disagreements": disagree,
                           "reference_passed": reference_pass}  # fmt: skip
    recorded = json.loads(FIXTURE.read_text()) if FIXTURE.is_file() else {"cases": []}
    recorded_disagree = sum(not _recorded_agrees(c) for c in recorded["cases"])
    counted = [*single.values(), *multi.values()]
    return {
        "figure": "verdicts of ours vs BFCL's scorers",
        "load_avg_before": before,
        "load_avg_after": _load(),
        "wall_s": round(time.perf_counter() - t0, 1),
        "single_turn": single,
        "multi_turn": multi,
        "recorded_replies": len(recorded["cases"]),
        "recorded_disagreements": recorded_disagree,
        "total_cases": sum(c["cases"] for c in counted) + len(recorded["cases"]),
        "total_disagreements": sum(c["disagreements"] for c in counted) + recorded_disagree,
    }


def run_figures(dirs: list[str]) -> dict[str, Any]:
    """Per bundle: pass rate with its Wilson interval, local $/success and J/success, and the same
    tokens priced on each cloud profile ($/success = priced total / this run's passed tasks)."""
    out = []
    for d in dirs:
        bundle = read_bundle(Path(d))
        records = enrich(bundle)
        summary = summarize(records, bundle.manifest, run_dir=d)
        o = summary["overall"]
        measured = [r for r in task_level(records) if not r.warmup]
        walls = [r.e2e_ms for r in measured if r.e2e_ms is not None]
        clouds = []
        for row in summary["cost"].get("priced_on_cloud", {}).get("rows", []):
            total = row.get("cost_total_usd")
            clouds.append({"profile": row["profile"], "as_of": row["as_of"], "usd_per_task": row.get("cost_per_task_usd"),
                           "usd_per_success": total / o["passed"] if total is not None and o["passed"] else None})  # fmt: skip
        hyg = bundle.manifest.hygiene or HygieneFacts()
        out.append({
            "run_id": bundle.manifest.run_id, "benchmark": source_text(bundle.manifest),
            "model": summary["model"], "protocol": summary.get("agent_protocol"),
            "prompt_format": summary.get("prompt_format"), "n": o["n"], "passed": o["passed"],
            "pass_rate": o["pass_rate"], "pass_ci": [o["pass_rate_ci_low"], o["pass_rate_ci_high"]],
            "cost_per_task_usd": o["cost_per_task_usd"],
            "cost_per_success_usd": o["cost_per_success_usd"], "energy_per_success_j": o["energy_per_success_j"],
            "cost_basis": o["cost_basis"], "wall_s_median": stats.percentile(walls, 50) / 1e3 if walls else None,
            "priced_on_cloud": clouds, "started_utc": bundle.manifest.started_utc,
            "load_avg_1m": [hyg.at(k).load_avg_1m for k in ("start", "end")],
        })  # fmt: skip
    return {"figure": "public benchmark runs", "runs": out}


def _calls(r: Any) -> list[dict[str, str]]:
    return [{"name": c["name"], "arguments": c["arguments"]} for c in r.calls or []]


def record_humaneval(dirs: list[str]) -> dict[str, Any]:
    """The answers of real HumanEval runs with the verdict each run recorded (ours, from the sandbox)."""
    out = []
    for d in dirs:
        bundle = read_bundle(Path(d))
        source = bundle.manifest.suite.source
        if source is None or source.benchmark != "HumanEval":
            continue
        model = bundle.manifest.model.catalog_name if bundle.manifest.model else "?"
        for r in (x for x in bundle.records if not x.warmup and x.status == "ok"):
            out.append({"task_id": r.task_id, "model": model, "prompt_style": source.prompt_style,
                        "answer": r.output_text, "recorded_verdict": r.passed})  # fmt: skip
    return {"source": "infercost runs of the bundled models (tests/benchmarks/bench_public_suites.py record)",
            "cases": out}  # fmt: skip


def record(dirs: list[str]) -> dict[str, Any]:
    """The replies of real runs (BFCL bundles) with both verdicts, as the agreement fixture."""
    out = []
    for d in dirs:
        bundle = read_bundle(Path(d))
        source = bundle.manifest.suite.source
        if source is None or source.benchmark != "BFCL v4":
            continue
        category = source.category
        model = bundle.manifest.model.catalog_name if bundle.manifest.model else "?"
        tasks = {t.id: t for t in cases.suite(category).tasks}
        if category in MULTI_TURN:
            entries = {e["id"]: e for e in authors.load_entries(category)[0]}
            for s in (r for r in bundle.records if r.kind == "agent" and not r.warmup):
                calls = [r for r in bundle.records if r.kind == "model" and r.task_id == s.task_id
                         and r.repetition == s.repetition and r.warmup == s.warmup]  # fmt: skip
                turns: list[list[list[tuple[str, str]]]] = []
                for r in calls:
                    while len(turns) <= (r.turn or 0):
                        turns.append([])
                    turns[r.turn or 0].append([(c["name"], c["arguments"]) for c in _calls(r)])
                task = tasks[s.task_id]
                ours, theirs = (
                    cases.ours_multi(task, turns),
                    cases.theirs_multi(entries[s.task_id], task, turns),
                )
                out.append({"category": category, "task_id": s.task_id, "model": model, "turns": turns,
                            "recorded_verdict": s.passed, "ours": ours, "theirs": theirs})  # fmt: skip
        else:
            for r in (x for x in bundle.records if x.kind is None and not x.warmup and x.status == "ok"):
                calls = [(c["name"], c["arguments"]) for c in _calls(r)]
                task = tasks[r.task_id]
                ours, theirs = cases.ours(task.check, calls), cases.theirs(task.check, calls)
                out.append({"category": category, "task_id": r.task_id, "model": model,
                            "calls": _calls(r), "recorded_verdict": r.passed, "ours": ours, "theirs": theirs})  # fmt: skip
    return {"source": "infercost runs of the bundled models (tests/benchmarks/bench_public_suites.py record)",
            "cases": out}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["load", "humaneval", "agreement", "runs", "record"])
    parser.add_argument("dirs", nargs="*")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.what == "load":
        result = load_times()
    elif args.what == "humaneval":
        result = humaneval_canonical()
    elif args.what == "agreement":
        result = agreement()
    elif args.what == "runs":
        result = run_figures(args.dirs)
    else:
        result = record(args.dirs)
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        answers = record_humaneval(args.dirs)
        HUMANEVAL_FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        HUMANEVAL_FIXTURE.write_text(json.dumps(answers, indent=1, ensure_ascii=False) + "\n")
        result = {"bfcl_cases": len(result["cases"]), "humaneval_answers": len(answers["cases"])}
    text = json.dumps(result, indent=1, default=str)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
