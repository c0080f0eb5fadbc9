"""BFCL agreement cases: replies judged by both our checks and BFCL's (tests and benchmark scripts).

Each case is a reply (or a multi-turn task's replies, turn by turn) with a label saying what it is: the
reference answer made from BFCL's possible answers or ground truth, or a systematic mutation of it that
breaks one thing (wrong function, wrong value, wrong type, missing required argument, unexpected
argument, extra call, no call, arguments that are not JSON, a parallel reply in another order; for
multi-turn, in every offered category: a call dropped, a wrong value, a wrong function, an extra call, two calls swapped, a turn
left out, a reply that does not decode). ``ours_*`` and ``theirs_*`` give the two verdicts.
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Iterator
from typing import Any

from bench.suite.sources import load_source_suite
from bench.suite.sources.bfcl import reference_calls
from bench.suite.tool_calls import MadeCall, judge_calls, tool_name
from bench.suite.tools.bfcl import multi_turn_verdict
from tests.helpers import bfcl_authors as authors

__all__ = [
    "UNSATISFIABLE", "Call", "multi_mutations", "mutations", "ours", "ours_multi", "reference", "suite",
    "theirs", "theirs_multi", "trajectory",
]  # fmt: skip

# entries whose possible answers no reply can satisfy, by BFCL's own checker (its data: a required
# parameter with no allowed value, or one the function document does not declare)
UNSATISFIABLE = {
    "live_simple_106-63-0",
    "live_simple_112-68-0",
    "live_multiple_862-181-3",
    "live_multiple_964-207-0",
}

Call = tuple[str, str]


def suite(category: str) -> Any:
    return load_source_suite("bfcl-simple" if category == "simple_python" else f"bfcl-{category}")


def ours(check: Any, calls: list[Call]) -> bool:
    ok, _ = judge_calls(
        check.category, check.functions, check.possible_answers, [MadeCall(*c) for c in calls]
    )
    return ok


def theirs(check: Any, calls: list[Call]) -> bool:
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


def mutations(check: Any, calls: list[Call]) -> Iterator[tuple[str, list[Call]]]:
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


def reference(check: Any) -> list[Call]:
    return [(c.name, c.arguments) for c in reference_calls(check.functions, check.possible_answers)]


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


def trajectory(task: Any) -> list[list[list[Call]]]:
    """The ground truth as a model following it would reply: one call per reply, then a text reply."""
    return [[[_as_native(task, c)] for c in turn] + [[]] for turn in task.check.ground_truth]


def multi_mutations(task: Any, turns: list[list[list[Call]]]) -> Iterator[tuple[str, list[list[list[Call]]]]]:
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


def ours_multi(task: Any, turns: list[list[list[Call]]]) -> bool:
    check = task.check
    made = [[[MadeCall(*c) for c in step] for step in turn] for turn in turns]
    ok, _ = multi_turn_verdict(
        check.ground_truth, made, check.involved_classes, check.initial_config, check.long_context
    )
    return ok


def theirs_multi(entry: dict[str, Any], task: Any, turns: list[list[list[Call]]]) -> bool:
    return authors.multi_turn_verdict(copy.deepcopy(entry), turns, task.check.ground_truth)
