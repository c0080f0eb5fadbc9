"""`infercost choose`: the best run that meets every rule, why each other lost, ties, none qualifying."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from bench.ci.choose import choose
from bench.ci.gate import load_run, parse_rules
from bench.cli.app import main
from bench.errors import UsageError
from bench.report.runs import Run
from tests.helpers import FIXTURES, run_cli

BUNDLES = FIXTURES / "gate_bundles"
RULES = {"absolute": {"pass_rate": ">= 60%", "e2e_p95_ms": "<= 300"}}


@pytest.fixture(scope="module")
def views() -> dict[str, Run]:
    return {
        name: load_run(BUNDLES / name) for name in ("baseline", "noise", "regression", "gemma3", "mismatched")
    }


def priced(view: Run, usd_per_ms: float) -> Run:
    """The run as enrichment will give it once a cost model fills ``cost_usd`` (here ∝ request time)."""
    recs = [r.model_copy(update={"cost_usd": (r.e2e_ms or 0) * usd_per_ms}) for r in view.records]
    return replace(view, records=recs)  # metrics are derived again from the new records


def test_by_latency_picks_the_qualifying_fastest(views: dict[str, Run]) -> None:
    c = choose(
        [views["baseline"], views["regression"], views["gemma3"]], parse_rules(RULES, "g"), by="latency"
    )
    assert c.exit_code == 0 and c.winner is not None
    assert c.winner.label.startswith("gemma3-270m") and c.winner.chosen
    lines = [v.line for v in c.verdicts]
    assert lines[0].startswith("chosen: gemma3-270m on this machine")
    assert "meets every rule; e2e p95 197.0 ms" in lines[0]
    assert lines[1].endswith("(n_threads=2, n_threads_batch=2): qualified but slower: 235.7 ms vs 197.0 ms")
    assert lines[2].endswith(
        "(n_threads=1, n_threads_batch=1): fails e2e_p95_ms: 407.6 ms is above the limit <= 300 ms"
    )


def test_by_cost_explains_costlier(views: dict[str, Run]) -> None:
    cands = [priced(views["baseline"], 1e-6), priced(views["gemma3"], 1e-6)]
    c = choose(cands, parse_rules({"absolute": {"pass_rate": 0.5}}, "g"), by="cost")
    assert c.winner is not None and c.winner.label.startswith("gemma3")  # faster and passes everything
    loser = c.verdicts[1].line
    assert "qualified but costlier: $0.000255 vs $0.000139" in loser


def test_none_qualifies_is_exit_1_with_reasons(views: dict[str, Run]) -> None:
    c = choose(
        [views["baseline"], views["regression"]],
        parse_rules({"absolute": {"pass_rate": 0.9}}, "g"),
        by="latency",
    )
    assert c.winner is None and c.exit_code == 1
    assert all("fails pass_rate: 67% is below the limit >= 90%" in v.line for v in c.verdicts)


def test_tie_on_identical_runs_is_deterministic_and_said(views: dict[str, Run], tmp_path: Path) -> None:
    a, b = tmp_path / "run-a", tmp_path / "run-b"
    shutil.copytree(BUNDLES / "baseline", a)
    shutil.copytree(BUNDLES / "baseline", b)
    rules = parse_rules(RULES, "g")
    forward = choose([load_run(b), load_run(a)], rules, by="latency")
    backward = choose([load_run(a), load_run(b)], rules, by="latency")
    assert forward.winner is not None and backward.winner is not None
    assert forward.winner.label == backward.winner.label and forward.winner.label.endswith("· run-a")
    assert "tied with" in forward.winner.reason and "chosen by name" in forward.winner.reason
    assert "tied on e2e p95 (235.7 ms), lost the tie-break" in forward.verdicts[1].reason


def test_tie_broken_by_pass_rate(views: dict[str, Run]) -> None:
    """Equal cost at the precision shown: the candidate that passes more tasks wins, and that is said."""
    smol, gemma = priced(views["baseline"], 1e-6), priced(views["gemma3"], 1e-6)
    gemma = replace(gemma)  # a copy whose derived metrics are set by hand
    gemma.metrics = {**gemma.metrics, "cost_per_success_usd": smol.metrics["cost_per_success_usd"] + 1e-8}
    c = choose([smol, gemma], parse_rules({"absolute": {"pass_rate": 0.5}}, "g"), by="cost")
    assert c.winner is not None and c.winner.label.startswith("gemma3")
    assert "chosen by higher pass rate (100% vs 67%)" in c.winner.reason


def test_refusals(views: dict[str, Run]) -> None:
    rules = parse_rules(RULES, "g")
    with pytest.raises(UsageError, match="the candidates ran different suites"):
        choose([views["baseline"], views["mismatched"]], rules, by="latency")
    with pytest.raises(
        UsageError, match="--by cost: no qualifying candidate can be ranked by cost per success"
    ):
        choose([views["baseline"], views["gemma3"]], rules, by="cost")
    with pytest.raises(UsageError, match=r"absolute\.cost_per_task_usd: no candidate has the data"):
        choose([views["baseline"]], parse_rules({"absolute": {"cost_per_task_usd": 1}}, "g"), by="latency")


def test_relative_rules_are_ignored_and_said(views: dict[str, Run]) -> None:
    rules = parse_rules({**RULES, "relative": {"decode_tps_mean": "-5%"}}, "g")
    c = choose([views["baseline"]], rules, by="latency")
    assert c.winner is not None and any(
        "[relative] rules (decode_tps_mean) are ignored" in n for n in c.notes
    )


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "g.toml"
    rules.write_text('[absolute]\npass_rate = ">= 60%"\ne2e_p95_ms = 300\n')
    runs = [str(BUNDLES / n) for n in ("baseline", "regression", "gemma3")]
    proc = run_cli("choose", *runs, "--rules", str(rules), "--by", "latency")  # a real process
    assert proc.returncode == 0, proc.stderr
    assert "chosen: gemma3-270m" in proc.stdout
    assert main(["choose", *runs, "--rules", str(rules), "--by", "latency", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["winner"].startswith("gemma3") and [c["qualified"] for c in doc["candidates"]] == [
        True,
        True,
        False,
    ]
    rules.write_text("[absolute]\npass_rate = 1.0\n")
    assert main(["choose", *runs[:2], "--rules", str(rules), "--by", "latency"]) == 1
    assert "no candidate meets every rule" in capsys.readouterr().out
    assert main(["choose", *runs, "--rules", str(rules)]) == 2
    assert "no qualifying candidate can be ranked by cost per success" in capsys.readouterr().err
