"""Replies real models gave in infercost runs, judged again by our checks and by BFCL's own scorers.

``tests/fixtures/bfcl/recorded.json`` holds every reply of real runs of the bundled models (SmolLM2-135M
and Gemma 3 270M, ``tests/benchmarks/bench_public_suites.py record``): single-turn replies with the calls
as the model wrote them, multi-turn tasks with every reply's calls turn by turn, and the verdict the run
recorded. All three verdicts must agree.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from bench.suite.sources.bfcl import MULTI_TURN
from tests.helpers import FIXTURES
from tests.helpers import bfcl_authors as authors
from tests.helpers import bfcl_cases as cases

RECORDED = FIXTURES / "bfcl" / "recorded.json"


def test_recorded_replies_get_bfcls_verdicts() -> None:
    recorded = json.loads(RECORDED.read_text())["cases"]
    tasks: dict[str, dict[str, Any]] = {}
    entries: dict[str, dict[str, Any]] = {}
    seen: Counter[tuple[str, str]] = Counter()
    for case in recorded:
        category = case["category"]
        if category not in tasks:
            tasks[category] = {t.id: t for t in cases.suite(category).tasks}
            if category in MULTI_TURN:
                entries.update({e["id"]: e for e in authors.load_entries(category)[0]})
        task = tasks[category][case["task_id"]]
        if category in MULTI_TURN:
            turns = [[[(c[0], c[1]) for c in step] for step in turn] for turn in case["turns"]]
            ours, theirs = cases.ours_multi(task, turns), cases.theirs_multi(entries[task.id], task, turns)
        else:
            calls = [(c["name"], c["arguments"]) for c in case["calls"]]
            ours, theirs = cases.ours(task.check, calls), cases.theirs(task.check, calls)
        assert ours == theirs == case["recorded_verdict"], case
        seen[(case["model"], category)] += 1
    assert len(recorded) >= 40
    assert {model for model, _ in seen} == {"smollm2-135m", "gemma3-270m"}
    assert any(category in MULTI_TURN for _, category in seen)
