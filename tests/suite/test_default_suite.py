"""Every task in the shipped default suite: its reference passes its own check and wrong answers fail."""

from __future__ import annotations

import pytest

from bench.suite.checks import evaluate
from bench.suite.loader import load_suite

SUITE = load_suite("default")
WRONG = ["", "I don't know.", "As an AI, I cannot answer that.", "0"]


def test_coverage_of_the_default_suite() -> None:
    cats = set(SUITE.categories)
    assert len(SUITE.tasks) >= 24
    for needed in (
        "factual",
        "format",
        "extraction",
        "summarization",
        "reasoning",
        "code",
        "chat",
        "long-context",
    ):
        assert needed in cats
    multi_turn = [t for t in SUITE.tasks if t.messages and sum(m.role == "user" for m in t.messages) >= 2]
    assert multi_turn, "needs a multi-turn chat task"


@pytest.mark.parametrize("task", SUITE.tasks, ids=[t.id for t in SUITE.tasks])
def test_reference_passes_and_wrong_answers_fail(task) -> None:  # type: ignore[no-untyped-def]
    assert task.reference, f"{task.id} has no reference answer"
    ok = evaluate(task.check, task.reference)
    assert ok.passed is True, f"{task.id}: reference fails its own check: {ok.detail}"
    for wrong in WRONG:
        assert evaluate(task.check, wrong).passed is False, f"{task.id}: {wrong!r} passes"


def test_long_context_task_is_about_1500_tokens(llama_backend) -> None:  # type: ignore[no-untyped-def]
    longest = max(len(llama_backend.render_prompt(t)[0]) for t in SUITE.tasks if t.category == "long-context")
    assert 1300 <= longest <= 1800
