"""Our BFCL verdicts against BFCL's own scorers (``ast_checker``, ``multi_turn_checker``), case by case.

Cases (``tests/helpers/bfcl_cases.py``): BFCL's possible answers (every entry of every offered
single-turn category), systematic wrong answers made from them (wrong function, wrong value, wrong type,
missing required argument, unexpected argument, extra call, no call, arguments that are not JSON, a
parallel reply in another order), the ground-truth trajectories of every offered multi-turn category and
their mutations (a call dropped, a wrong value, a wrong function, an extra call, two calls swapped, a turn
left out, a reply that does not decode). Every verdict must equal the authors'; the counts are in
docs/benchmarks.md (``tests/benchmarks/bench_public_suites.py agreement`` counts them, every entry of
every category; here ``multi_turn_base`` runs whole and the other multi-turn categories a sample).
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.suite.sources.bfcl import MULTI_TURN, SINGLE_TURN
from bench.suite.tools.bfcl import BfclInstances
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
    for category in ("simple_python", "parallel_multiple", "live_simple", *MULTI_TURN):
        entries, _ = authors.load_entries(category)
        suite = cases.suite(category)
        for entry, task in zip(entries, suite.tasks, strict=True):
            ours = task.tools if task.agent is None else task.agent.functions
            assert entry["id"] == task.id and (ours or []) == authors.convert_to_tool(entry["function"])


def _multi_turn_parts() -> list[Any]:
    """``multi_turn_base`` whole, in eight parts of 25 entries (a second or two each); every other
    offered multi-turn category a sample, every 8th entry (25 of ``multi_turn_long_context``'s 200, to
    keep CI short: docs/benchmarks.md has the times); ``tests/benchmarks/bench_public_suites.py
    agreement`` judges every entry."""
    parts = []
    for category in MULTI_TURN:
        if category == "multi_turn_base":
            parts += [
                pytest.param(category, slice(p * 25, (p + 1) * 25), id=f"{category}-{p}") for p in range(8)
            ]
        else:
            parts.append(pytest.param(category, slice(None, None, 8), id=f"{category}-every-8th"))
    return parts


@pytest.mark.parametrize(("category", "part"), _multi_turn_parts())
def test_multi_turn_ground_truth_and_mutations_get_bfcls_verdicts(category: str, part: slice) -> None:
    entries, _ = authors.load_entries(category)
    tasks = cases.suite(category).tasks
    pairs = list(zip(entries, tasks, strict=True))[part]
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
    assert reference_passed == len(pairs) == 25
    assert n > 5 * len(pairs)


@pytest.mark.parametrize("category", MULTI_TURN)
def test_the_scenario_our_tools_load_is_bfcls(category: str) -> None:
    """Every entry's instances as our tools and check load them equal BFCL's executor's, attribute by
    public attribute (the state BFCL's checker compares). The verdicts above cannot tell a wrong
    long-context flag (both sides of each checker load the same scenario); this can: the long-context
    scenario adds files, stocks, cards and bookings, and the instances record the flag."""
    entries, _ = authors.load_entries(category)
    tasks = cases.suite(category).tasks
    for entry, task in zip(entries, tasks, strict=True):
        env = task.agent.bfcl
        assert env.long_context == task.check.long_context == ("long_context" in category)
        ours = BfclInstances(env.involved_classes, env.initial_config, env.long_context)
        theirs = authors.initial_instances(entry)
        assert list(theirs) == list(ours.instances) == entry["involved_classes"]
        for name, instance in theirs.items():
            public = {k: v for k, v in vars(instance).items() if not k.startswith("_")}
            assert ours.state(name) == public, f"{task.id}: {name}"
