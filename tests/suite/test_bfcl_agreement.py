"""Our BFCL verdicts against BFCL's own scorers (``ast_checker``, ``multi_turn_checker``), case by case.

Cases (``tests/helpers/bfcl_cases.py``): BFCL's possible answers (every entry of every offered
single-turn category), systematic wrong answers made from them (wrong function, wrong value, wrong type,
missing required argument, unexpected argument, extra call, no call, arguments that are not JSON, a
parallel reply in another order), the ground-truth trajectories of ``multi_turn_base`` and their
mutations (a call dropped, a wrong value, a wrong function, an extra call, two calls swapped, a turn
left out, a reply that does not decode). Every verdict must equal the authors'; the counts are in
docs/benchmarks.md (``tests/benchmarks/bench_public_suites.py --agreement`` counts them).
"""

from __future__ import annotations

import pytest

from bench.suite.sources.bfcl import SINGLE_TURN
from tests.helpers import bfcl_authors as authors
from tests.helpers import bfcl_cases as cases


@pytest.mark.parametrize("category", SINGLE_TURN)
def test_possible_answers_and_their_mutations_get_bfcls_verdicts(category: str) -> None:
    suite = cases.suite(category)
    n = passed = 0
    disagreements = []
    for task in suite.tasks:
        check = task.check
        reference = cases.reference(check)
        for label, calls in [("reference", reference), *cases.mutations(check, reference)]:
            ours, theirs = cases.ours(check, calls), cases.theirs(check, calls)
            n += 1
            if ours != theirs:
                disagreements.append((task.id, label, ours, theirs))
            if label == "reference":
                passed += ours
                if "relevance" not in category:
                    assert ours or task.id in cases.UNSATISFIABLE, f"{task.id}: BFCL's possible answer fails"
    assert disagreements == [], disagreements[:5]
    assert n > 3 * len(suite.tasks)
    if "relevance" not in category:
        assert passed == len(suite.tasks) - len(cases.UNSATISFIABLE & {t.id for t in suite.tasks})


def test_every_offered_tool_list_is_the_one_bfcl_sends() -> None:
    for category in ("simple_python", "parallel_multiple", "live_simple", "multi_turn_base"):
        entries, _ = authors.load_entries(category)
        suite = cases.suite(category)
        for entry, task in zip(entries, suite.tasks, strict=True):
            ours = task.tools if task.agent is None else task.agent.functions
            assert entry["id"] == task.id and (ours or []) == authors.convert_to_tool(entry["function"])


@pytest.mark.parametrize("part", range(4))
def test_multi_turn_ground_truth_and_mutations_get_bfcls_verdicts(part: int) -> None:
    """multi_turn_base in four parts of 50 entries (a few seconds each)."""
    entries, _ = authors.load_entries("multi_turn_base")
    tasks = cases.suite("multi_turn_base").tasks
    pairs = list(zip(entries, tasks, strict=True))[part * 50 : (part + 1) * 50]
    n, disagreements, reference_passed = 0, [], 0
    for entry, task in pairs:
        turns = cases.trajectory(task)
        for label, case in [("reference", turns), *cases.multi_mutations(task, turns)]:
            ours = cases.ours_multi(task, case)
            theirs = cases.theirs_multi(entry, task, case)
            n += 1
            reference_passed += label == "reference" and ours
            if ours != theirs:
                disagreements.append((task.id, label, ours, theirs))
    assert disagreements == [], disagreements[:5]
    assert reference_passed == len(pairs) == 50
    assert n > 5 * len(pairs)
