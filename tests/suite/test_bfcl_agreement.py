"""Our BFCL verdicts against BFCL's own scorers (``ast_checker``, ``multi_turn_checker``), case by case.

Cases: BFCL's possible answers (every entry of every offered single-turn category), systematic wrong
answers made from them (wrong function, wrong value, wrong type, missing required argument, unexpected
argument, extra call, no call, arguments that are not JSON, a parallel reply in another order), the
ground-truth trajectories of the multi-turn categories and their mutations (a call dropped, a wrong
value, a wrong function, an extra call, two calls swapped, a turn left out, a reply that does not
decode). Every verdict must equal the authors'; the counts are in docs/benchmarks.md.
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from bench.suite.sources import load_source_suite
from bench.suite.sources.bfcl import SINGLE_TURN, reference_calls
from bench.suite.tool_calls import MadeCall, judge_calls, tool_name
from bench.suite.tools.bfcl import judge_multi_turn
from tests.helpers import bfcl_authors as authors

# entries whose possible answers no reply can satisfy, by BFCL's own checker (its data: a required
# parameter with no allowed value, or one the function document does not declare)
UNSATISFIABLE = {
    "live_simple_106-63-0",
    "live_simple_112-68-0",
    "live_multiple_862-181-3",
    "live_multiple_964-207-0",
}

Call = tuple[str, str]


def _suite(category: str) -> Any:
    return load_source_suite("bfcl-simple" if category == "simple_python" else f"bfcl-{category}")


def _ours(check: Any, calls: list[Call]) -> bool:
    ok, _ = judge_calls(
        check.category, check.functions, check.possible_answers, [MadeCall(*c) for c in calls]
    )
    return ok


def _theirs(check: Any, calls: list[Call]) -> bool:
    decoded = authors.decode_ast(calls)
    if "relevance" in check.category:
        return authors.relevance_verdict(decoded, check.category)
    if decoded is None:
        return False
    return authors.ast_verdict(check.functions, decoded, check.possible_answers, check.category)


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 7
    if isinstance(value, str):
        return value + " (changed)"
    if isinstance(value, list):
        return [*value, value[0]] if value else ["extra"]
    if isinstance(value, dict):
        return {**value, "unexpected": 1}
    return "changed"


def _mutations(check: Any, calls: list[Call]) -> Iterator[tuple[str, list[Call]]]:
    """Wrong answers made from a correct one, each named for what it breaks."""
    yield "no call", []
    if not calls:  # irrelevance: any call fails, one that does not decode is no call
        fn = tool_name(check.functions[0]["name"]) if check.functions else "any_function"
        yield "a call", [(fn, "{}")]
        yield "a call, not JSON", [(fn, '{"a": ')]
        yield "a call, arguments not an object", [(fn, "[1, 2]")]
        return
    name, args_text = calls[0]
    args = json.loads(args_text)
    others = [tool_name(f["name"]) for f in check.functions if tool_name(f["name"]) != name]
    yield "wrong function", [(others[0] if others else name + "_x", args_text), *calls[1:]]
    yield "not JSON", [(name, args_text[:-1] or "{"), *calls[1:]]
    yield "extra call", [*calls, calls[0]]
    yield "unexpected argument", [(name, json.dumps({**args, "zz_unexpected": 1})), *calls[1:]]
    if len(calls) > 1:
        yield "swapped order", list(reversed(calls))
        yield "one call short", calls[:-1]
    fn = next((f for f in check.functions if tool_name(f["name"]) == name), None)
    required = fn["parameters"].get("required", []) if fn else []
    for param in list(args)[:3]:
        yield (
            f"wrong value of {param}",
            [(name, json.dumps({**args, param: _changed(args[param])})), *calls[1:]],
        )
        yield (
            f"wrong type of {param}",
            [(name, json.dumps({**args, param: json.dumps(args[param])})), *calls[1:]],
        )
        if param in required:
            rest = {k: v for k, v in args.items() if k != param}
            yield f"missing required {param}", [(name, json.dumps(rest)), *calls[1:]]


def _reference(check: Any) -> list[Call]:
    return [(c.name, c.arguments) for c in reference_calls(check.functions, check.possible_answers)]


@pytest.mark.parametrize("category", SINGLE_TURN)
def test_possible_answers_and_their_mutations_get_bfcls_verdicts(category: str) -> None:
    suite = _suite(category)
    cases = passed = 0
    disagreements = []
    for task in suite.tasks:
        check = task.check
        reference = _reference(check)
        for label, calls in [("reference", reference), *_mutations(check, reference)]:
            ours, theirs = _ours(check, calls), _theirs(check, calls)
            cases += 1
            if ours != theirs:
                disagreements.append((task.id, label, ours, theirs))
            if label == "reference":
                passed += ours
                if "relevance" not in category:
                    assert ours or task.id in UNSATISFIABLE, f"{task.id}: BFCL's possible answer fails"
    assert disagreements == [], disagreements[:5]
    assert cases > 3 * len(suite.tasks)
    if "relevance" not in category:
        assert passed == len(suite.tasks) - len(UNSATISFIABLE & {t.id for t in suite.tasks})


def test_every_offered_tool_list_is_the_one_bfcl_sends() -> None:
    for category in ("simple_python", "parallel_multiple", "live_simple", "multi_turn_base"):
        entries, _ = authors.load_entries(category)
        suite = _suite(category)
        for entry, task in zip(entries, suite.tasks, strict=True):
            ours = task.tools if task.agent is None else task.agent.functions
            assert entry["id"] == task.id and (ours or []) == authors.convert_to_tool(entry["function"])


# ------------------------------------------------------------------------------------------- multi-turn
def _as_native(task: Any, text: str) -> Call:
    """A ground-truth call (``name(arg, key=value)``) as a native tool call: name and JSON arguments."""
    node = ast.parse(text, mode="eval").body
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    args = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    if node.args:
        fn = next(f for f in task.agent.functions if f["function"]["name"] == node.func.id)
        names = list(fn["function"]["parameters"]["properties"])
        args.update({names[i]: ast.literal_eval(a) for i, a in enumerate(node.args)})
    return node.func.id, json.dumps(args)


def _trajectory(task: Any) -> list[list[list[Call]]]:
    """The ground truth as a model following it would reply: one call per reply, then a text reply."""
    return [[[_as_native(task, c)] for c in turn] + [[]] for turn in task.check.ground_truth]


def _multi_mutations(
    task: Any, turns: list[list[list[Call]]]
) -> Iterator[tuple[str, list[list[list[Call]]]]]:
    first = next((i for i, t in enumerate(turns) if len(t) > 1), None)
    if first is None:
        return
    calls = turns[first][:-1]
    name, args_text = calls[-1][0]
    args = json.loads(args_text)

    def with_turn(steps: list[list[Call]]) -> list[list[list[Call]]]:
        out = copy.deepcopy(turns)
        out[first] = [*steps, []]
        return out

    yield "call dropped", with_turn(calls[:-1])
    yield "extra call", with_turn([*calls, calls[-1]])
    if args:
        key = next(iter(args))
        yield (
            "wrong value",
            with_turn([*calls[:-1], [(name, json.dumps({**args, key: _changed(args[key])}))]]),
        )
    others = [f["function"]["name"] for f in task.agent.functions if f["function"]["name"] != name]
    yield "wrong function", with_turn([*calls[:-1], [(others[0], args_text)]])
    if len(calls) > 1:
        yield "two calls swapped", with_turn([*calls[:-2], calls[-1], calls[-2]])
        yield "calls in one reply", with_turn([[c for step in calls for c in step]])
    yield "reply not JSON", with_turn([*calls[:-1], [(name, args_text[:-1])]])
    yield "turn left out", turns[:-1]
    yield "nothing called", [[[]] for _ in turns]


def _multi_ours(task: Any, turns: list[list[list[Call]]]) -> bool:
    check = task.check
    made = [[[MadeCall(*c) for c in step] for step in turn] for turn in turns]
    ok, _ = judge_multi_turn(check.ground_truth, made, check.involved_classes, check.initial_config)
    return ok


@pytest.mark.parametrize("part", range(4))
def test_multi_turn_ground_truth_and_mutations_get_bfcls_verdicts(part: int) -> None:
    """multi_turn_base in four parts of 50 entries (a few seconds each)."""
    entries, _ = authors.load_entries("multi_turn_base")
    tasks = _suite("multi_turn_base").tasks
    pairs = list(zip(entries, tasks, strict=True))[part * 50 : (part + 1) * 50]
    cases, disagreements, reference_passed = 0, [], 0
    for entry, task in pairs:
        turns = _trajectory(task)
        for label, case in [("reference", turns), *_multi_mutations(task, turns)]:
            ours = _multi_ours(task, case)
            theirs = authors.multi_turn_verdict(copy.deepcopy(entry), case, task.check.ground_truth)
            cases += 1
            reference_passed += label == "reference" and ours
            if ours != theirs:
                disagreements.append((task.id, label, ours, theirs))
    assert disagreements == [], disagreements[:5]
    assert reference_passed == len(pairs) == 50
    assert cases > 5 * len(pairs)
