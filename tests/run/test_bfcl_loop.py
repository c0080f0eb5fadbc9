"""BFCL's tasks through our loops: a multi-turn task's turns, its tools (BFCL's own classes, one set of
instances per attempt) and BFCL's check at the end; a single-turn task's calls recorded as written."""

from __future__ import annotations

import ast
import json
import time
from typing import Any

from bench.results.schema import Record
from bench.run.agent import AgentLoop
from bench.suite.checks import BfclMultiTurnCheck
from bench.suite.loader import Task
from bench.suite.sources import load_source_suite
from tests.helpers.scripted import Scripted

MULTI = {t.id: t for t in load_source_suite("bfcl-multi_turn_base").tasks}


def _native(task: Task, text: str, i: int) -> dict[str, Any]:
    """A ground-truth call as the native tool call a model following it would make."""
    assert task.agent is not None
    node = ast.parse(text, mode="eval").body
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    args = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    fn = next(f["function"] for f in task.agent.functions if f["function"]["name"] == node.func.id)
    names = list(fn["parameters"]["properties"])[: len(node.args)]
    args.update({name: ast.literal_eval(a) for name, a in zip(names, node.args, strict=True)})
    return {"id": f"c{i}", "name": node.func.id, "arguments": json.dumps(args)}


def _replies(task: Task, truth: list[list[str]]) -> list[Any]:
    out: list[Any] = []
    for turn in truth:
        out += [{"tool_calls": [_native(task, c, i)]} for i, c in enumerate(turn)]
        out.append("Done with this part.")
    return out


def _run(task: Task, replies: list[Any]) -> tuple[Record, list[Record], Scripted]:
    records: list[Record] = []
    backend = Scripted(replies, native=True)
    loop = AgentLoop(backend, run_id="r", anchor_ns=0, append=records.append)
    summary = loop.run_task(task, 0, False)
    return summary, records[:-1], backend


def test_the_ground_truth_passes_turn_by_turn_on_bfcls_own_classes() -> None:
    task = MULTI["multi_turn_base_0"]
    assert task.agent is not None and task.agent.bfcl is not None
    truth = [list(t) for t in task.check.ground_truth]  # type: ignore[union-attr]
    summary, records, backend = _run(task, _replies(task, truth))
    assert summary.passed is True and summary.stop_reason == "answer", summary.check_detail
    assert summary.tool_errors == 0 and summary.tool_calls == sum(len(t) for t in truth)
    model = [r for r in records if r.kind == "model"]
    assert [r.turn for r in model][:4] == [0, 0, 0, 0] and model[-1].turn == len(truth) - 1
    assert model[0].calls == [{"name": "cd", "arguments": json.dumps({"folder": "document"})}]
    tools = [r for r in records if r.kind == "tool"]
    assert "temp" in (tools[2].output_text or "") or tools[2].tool_error is False  # mv ran for real
    # each later turn's user message arrives after the model's answer to the one before
    last = backend.requests[-1].messages
    users = [m["content"] for m in last if m["role"] == "user"]
    assert len(users) == len(truth)


def test_a_wrong_call_fails_and_each_attempt_starts_from_the_initial_state() -> None:
    task = MULTI["multi_turn_base_0"]
    truth = [list(t) for t in task.check.ground_truth]  # type: ignore[union-attr]
    wrong = [list(t) for t in truth]
    wrong[0][1] = "mkdir(dir_name='tmp')"  # the wrong directory: the state differs after turn 0
    summary, _, _ = _run(task, _replies(task, wrong))
    assert summary.passed is False and "instance_state_mismatch" in (summary.check_detail or "")
    again, _, _ = _run(task, _replies(task, truth))  # fresh instances: the last attempt left nothing behind
    assert again.passed is True


def test_a_turn_that_never_ends_is_force_quit_as_bfcl_does() -> None:
    task = MULTI["multi_turn_base_0"]
    call = {"tool_calls": [{"id": "x", "name": "pwd", "arguments": "{}"}]}
    summary, records, _ = _run(task, [call] * 30)
    assert summary.stop_reason == "max_steps" and summary.passed is False
    assert "force_terminated" in (summary.check_detail or "")
    assert sum(1 for r in records if r.kind == "model") == 21  # BFCL: quit once a turn passes 20 steps


def test_a_reply_that_does_not_decode_ends_the_turn() -> None:
    task = MULTI["multi_turn_base_0"]
    bad = {"tool_calls": [{"id": "x", "name": "cd", "arguments": '{"folder": '}]}
    summary, _, backend = _run(task, [bad, "ok", "ok", "ok", "ok"])
    assert summary.stop_reason == "answer" and summary.tool_calls == 0
    assert len(backend.requests) == 4  # one reply per turn: each ended its turn
    assert summary.passed is False and "empty_turn" in (summary.check_detail or "")


def test_a_runaway_call_is_stopped_by_its_bounds_and_changes_nothing() -> None:
    """``power(10, 10**9)`` is one C-level loop (no signal can stop it in-process) that would want
    hundreds of MB: its forked child meets the deadline or the memory cap, the run goes on."""
    from bench.suite.tools.bfcl import BfclToolbox

    task = next(
        t for t in MULTI.values() if t.agent and t.agent.bfcl and "MathAPI" in t.agent.bfcl.involved_classes
    )
    assert task.agent is not None and task.agent.bfcl is not None
    env = task.agent.bfcl
    box = BfclToolbox(task.agent.functions, env.involved_classes, env.initial_config, timeout_s=2.0)
    t0 = time.perf_counter()
    result = box.run("power", {"base": 10, "exponent": 10**9})
    assert result.error and "stopped" in result.content and time.perf_counter() - t0 < 10, result.content
    assert box.run("add", {"a": 2, "b": 3}).content == '{"result": 5}'  # and the next call runs


def test_state_changes_made_in_the_bounded_child_reach_the_tasks_instances() -> None:
    from bench.suite.tools.bfcl import BfclToolbox

    task = MULTI["multi_turn_base_0"]
    assert task.agent is not None and task.agent.bfcl is not None
    env = task.agent.bfcl
    box = BfclToolbox(task.agent.functions, env.involved_classes, env.initial_config)
    assert not box.run("cd", {"folder": "document"}).error
    assert not box.run("mkdir", {"dir_name": "temp"}).error
    listing = box.run("ls", {}).content
    assert "temp" in listing and "final_report.pdf" in listing  # the second call saw the first's state


def test_the_bounded_check_gives_the_in_process_verdict() -> None:
    """``judge_multi_turn`` (the replay in a bounded child, as runs use it) says what
    ``multi_turn_verdict`` (in-process, as the agreement tests call it thousands of times) says."""
    from bench.suite.tool_calls import MadeCall
    from bench.suite.tools.bfcl import judge_multi_turn, multi_turn_verdict

    task = MULTI["multi_turn_base_0"]
    check = task.check
    assert isinstance(check, BfclMultiTurnCheck)
    truth = [list(t) for t in check.ground_truth]
    right = [
        [
            [MadeCall(c["name"], c["arguments"])]
            for c in (_native(task, text, i) for i, text in enumerate(turn))
        ]
        for turn in truth
    ]
    wrong = [right[0][:-1], *right[1:]]
    for case in (right, wrong, right[:-1]):
        args = (check.ground_truth, case, check.involved_classes, check.initial_config)
        assert judge_multi_turn(*args) == multi_turn_verdict(*args)
    assert (
        judge_multi_turn(check.ground_truth, right, check.involved_classes, check.initial_config)[0] is True
    )
