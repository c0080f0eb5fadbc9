"""The agent loop: records, the time split, stop reasons and misbehaving models (a scripted backend
stands in for the model so every path is exercised exactly); native tool calls over HTTP against the
fake server's streamed ``tool_calls`` deltas; trace lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.backends.base import RequestFailed
from bench.results.schema import Record
from bench.run.agent import AgentLoop
from bench.run.agent_protocol import parse_text_calls, to_text_protocol
from bench.suite.loader import Task, load_suite
from tests.helpers.scripted import Scripted

SUITE = load_suite("agent")


def _task(task_id: str) -> Task:
    return next(t for t in SUITE.tasks if t.id == task_id)


def _run(backend: Scripted, task: Task, **kw: Any) -> tuple[Record, list[Record], list[dict[str, Any]]]:
    records: list[Record] = []
    trace: list[dict[str, Any]] = []
    loop = AgentLoop(backend, run_id="r", anchor_ns=0, append=records.append, trace=trace.append, **kw)
    summary = loop.run_task(task, 0, False)
    assert records[-1] is summary
    return summary, records[:-1], trace


def _as_text_calls(task: Task) -> list[str]:
    assert task.agent is not None
    return [json.dumps({"tool": c.tool, "arguments": c.arguments}) for c in task.agent.solution]


def test_reference_trajectory_through_the_loop_passes() -> None:
    task = _task("sql-alice-total")
    backend = Scripted([*_as_text_calls(task), task.reference])
    summary, calls, trace = _run(backend, task)
    assert summary.kind == "agent" and summary.stop_reason == "answer" and summary.passed is True
    assert summary.steps == 3 and summary.tool_calls == 2 and summary.tool_errors == 0
    kinds = [(r.kind, r.step) for r in calls]
    assert kinds == [("model", 0), ("tool", 0), ("model", 1), ("tool", 1), ("model", 2)]
    assert "161.25" in (calls[3].output_text or "")  # the real query ran on the bundled database
    # the time split adds up to the wall time and nothing is negative
    assert summary.harness_s is not None and summary.harness_s >= 0
    parts = (summary.model_s or 0) + (summary.tool_s or 0) + summary.harness_s
    assert parts == pytest.approx(summary.wall_s, abs=1e-6)
    # tokens by tier: the sum over calls
    model_calls = [r for r in calls if r.kind == "model"]
    assert summary.prompt_tokens == sum(r.prompt_tokens or 0 for r in model_calls)
    assert summary.cached_tokens == 0 + 5 + 10
    assert summary.input_fresh_tokens == summary.prompt_tokens - 15
    # the first call of a task starts cold; later ones reuse the prefix
    assert [r.reuse_prefix for r in backend.requests] == [False, True, True]
    # trace: one chat-completion request per model call, with the tool results in the context
    assert [t["step"] for t in trace] == [0, 1, 2]
    assert trace[2]["request"]["messages"][-1]["role"] == "tool"
    assert trace[1]["usage"]["completion_tokens"] == 7


def test_prefix_cache_off_never_reuses() -> None:
    task = _task("sql-alice-total")
    backend = Scripted([*_as_text_calls(task), task.reference])
    _run(backend, task, prefix_cache=False)
    assert not any(r.reuse_prefix for r in backend.requests)


def test_endless_tool_calls_stop_at_max_steps() -> None:
    task = _task("cfg-worst-case-wait")  # max_steps = 6
    backend = Scripted(['{"tool": "calculator", "arguments": {"expression": "1+1"}}'] * 50)
    summary, _calls, _ = _run(backend, task)
    assert summary.stop_reason == "max_steps" and summary.steps == 6 and summary.passed is False
    assert summary.status == "ok"  # a result, not an error


@pytest.mark.parametrize(
    "reply,needle",
    [
        ('{"tool": "calculator", "arguments": {"expression": "1+1"', "not valid JSON"),
        ('{"tool": "teleport", "arguments": {}}', "unknown tool"),
        ('{"tool": "python", "arguments": {"code": "print(1)"}}', "not available in this task"),
        ('{"tool": "calculator", "arguments": {"expression": 5}}', "bad arguments"),
        ('{"tool": "calculator", "arguments": "' + "x" * 30000 + '"}', "too long"),
    ],
)
def test_bad_tool_calls_become_counted_tool_errors(reply: str, needle: str) -> None:
    task = _task("cfg-worst-case-wait")
    summary, calls, trace = _run(Scripted([reply, "120"]), task)
    tool = next(r for r in calls if r.kind == "tool")
    assert tool.tool_error is True and needle in (tool.output_text or "")
    assert summary.tool_errors == 1 and summary.stop_reason == "answer" and summary.passed is True
    assert needle in trace[1]["request"]["messages"][-1]["content"]  # the model saw it


def test_failed_request_ends_the_task_with_error() -> None:
    task = _task("cfg-worst-case-wait")
    summary, calls, _ = _run(
        Scripted(['{"tool": "list_files", "arguments": {}}', RequestFailed("boom")]), task
    )
    assert summary.stop_reason == "error" and summary.status == "error" and summary.passed is False
    assert calls[-1].kind == "model" and calls[-1].status == "error"


def test_token_budget_stops_the_task() -> None:
    task = _task("cfg-worst-case-wait")
    assert task.agent is not None
    tight = task.model_copy(update={"agent": task.agent.model_copy(update={"max_tokens_total": 60})})
    summary, _, _ = _run(Scripted(['{"tool": "list_files", "arguments": {}}'] * 10), tight)
    assert summary.stop_reason == "token_budget"


def test_native_calls_with_invalid_json_arguments() -> None:
    task = _task("cfg-worst-case-wait")
    native = {"tool_calls": [
        {"id": "a", "name": "calculator", "arguments": '{"expression": "4*30"}'},
        {"id": "b", "name": "calculator", "arguments": "{oops"},
    ]}  # fmt: skip
    backend = Scripted([native, "120"], native=True)
    summary, calls, trace = _run(backend, task)
    tools = [r for r in calls if r.kind == "tool"]
    assert [t.tool_error for t in tools] == [False, True] and tools[0].output_text == "120"
    assert backend.requests[0].tools and backend.requests[0].messages[0]["role"] == "user"
    assistant = trace[1]["request"]["messages"][1]
    assert [c["id"] for c in assistant["tool_calls"]] == ["a", "b"]
    assert summary.passed is True


def test_text_protocol_rendering_and_parsing() -> None:
    from bench.suite.tools import openai_tools

    msgs = to_text_protocol(
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": '{"tool": "grep", "arguments": {"pattern": "x"}}'},
         {"role": "tool", "name": "grep", "tool_call_id": "c", "content": "(no matches)"}],
        openai_tools(["grep", "calculator"]),
    )  # fmt: skip
    assert msgs[0]["role"] == "system" and "- grep(pattern: string, path: string?)" in msgs[0]["content"]
    assert msgs[-1] == {"role": "user", "content": "Tool result (grep):\n(no matches)"}
    assert parse_text_calls("The answer is 42.", 0) == []
    assert parse_text_calls('Sure: {"tool": "grep", "arguments": {"pattern": "a"}} then', 1)[0].arguments == {
        "pattern": "a"
    }
    assert parse_text_calls('{"name": "grep", "arguments": "{\\"pattern\\": \\"b\\"}"}', 2)[0].arguments == {
        "pattern": "b"
    }


# ------------------------------------------------------------------------------------- over HTTP
def test_native_tool_calls_streamed_from_a_server(fake_server: Any, tmp_path: Path) -> None:
    from bench.backends.http.client import OpenAIHttpBackend
    from bench.devices.profiles import load_device
    from tests.helpers.http import write_profile

    profile = load_device(str(write_profile(tmp_path / "p.toml", fake_server.base_url)))
    backend = OpenAIHttpBackend(profile)
    backend.load()
    try:
        task = Task.model_validate({
            "id": "t", "messages": [{"role": "user", "content": "scenario=tools what is 6*7?"}],
            "check": {"type": "number", "value": 42}, "agent": {"tools": ["calculator"], "max_steps": 4},
        })  # fmt: skip
        summary, calls, _trace = _run(backend, task)  # type: ignore[arg-type]
    finally:
        backend.close()
    tools = [r for r in calls if r.kind == "tool"]
    assert [(t.tool_name, t.tool_error) for t in tools] == [("calculator", False), ("calculator", True)]
    assert tools[0].output_text == "42"  # arguments reassembled from four deltas
    sent = fake_server.app.requests[-1]
    assert sent["tools"][0]["function"]["name"] == "calculator" and sent["tool_choice"] == "auto"
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool", "tool"]
    assert summary.passed is True and summary.stop_reason == "answer"
    model = [r for r in calls if r.kind == "model"]
    assert [r.cached_tokens for r in model] == [0, 30]  # usage.prompt_tokens_details.cached_tokens
    assert summary.cached_tokens == 30 and summary.prompt_tokens == 40 + 70
    assert model[0].ttft_ms is not None  # a reply of only tool calls is timed by its deltas


def test_cli_agent_suite_over_http_with_native_tools(fake_server: Any, tmp_path: Path) -> None:
    from bench.results.bundle import read_bundle
    from tests.helpers import run_cli
    from tests.helpers.http import write_profile

    profile = write_profile(tmp_path / "p.toml", fake_server.base_url)
    suite = tmp_path / "s.toml"
    suite.write_text(
        '[[tasks]]\nid = "calc"\nmessages = [{ role = "user", content = "scenario=tools 6*7?" }]\n'
        'check = { type = "number", value = 42 }\nagent = { tools = ["calculator"], max_steps = 4 }\n'
    )
    out = tmp_path / "runs"
    done = run_cli(
        "run",
        "--device",
        str(profile),
        "--suite",
        str(suite),
        "-r",
        "2",
        "-w",
        "0",
        "--out",
        str(out),
        "--power",
        "none",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "agent tasks" in done.stdout and "calc" in done.stdout
    bundle = read_bundle(next(out.iterdir()))
    assert bundle.manifest.backend.agent_protocol == "native_tools"
    summaries = [r for r in bundle.records if r.kind == "agent"]
    assert len(summaries) == 2 and all(r.passed and r.tool_errors == 1 for r in summaries)
    assert all(r.repetition == i for i, r in enumerate(summaries))
    lines = (bundle.path / "trace.jsonl").read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[1])["request"]["tools"][0]["function"]["name"] == "calculator"
