"""Traces are read like suites: regular files only, size caps, and one line per problem naming the file,
the line and the field (``run --trace`` of /dev/zero read until the kernel killed it; a FIFO hung;
``completion_tokens: 1e18`` or a task id that is an object ended in tracebacks)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from bench.errors import SuiteError
from bench.run.trace import load_trace, trace_suite
from tests.helpers import run_cli

GOOD = {"messages": [{"role": "user", "content": "q"}], "usage": {"completion_tokens": 3}}


def _line(**update: object) -> str:
    return json.dumps({**GOOD, **update})


BAD = [
    (_line(usage={"completion_tokens": 1e18}), "usage.completion_tokens", "valid integer"),
    (_line(usage={"completion_tokens": 10**18}), "usage.completion_tokens", "less than or equal"),
    (_line(usage={"completion_tokens": -1}), "usage.completion_tokens", "greater than or equal to 0"),
    (_line(usage={"completion_tokens": "5"}), "usage.completion_tokens", "valid integer"),
    (_line(usage={"completion_tokens": True}), "usage.completion_tokens", "valid integer"),
    (_line(usage={"completion_tokens": 2, "prompt_tokens": -5}), "usage.prompt_tokens", "greater than"),
    (_line(usage={"completion_tokens": 2, "prompt_tokens": "many"}), "usage.prompt_tokens", "valid integer"),
    (_line(usage=[1, 2]), "usage", "missing"),
    (_line(task_id={"x": 1}), "task_id", "valid"),
    (_line(task_id=["a"]), "task_id", "valid"),
    (_line(task_id=1.5), "task_id", "valid"),
    (_line(repetition=-1), "repetition", "greater than or equal"),
    (_line(repetition="0"), "repetition", "valid integer"),
    (_line(warmup="yes"), "warmup", "valid boolean"),
    (_line(temperature="hot"), "temperature", "valid number"),
    (_line(temperature=1e308), "temperature", "less than or equal"),
    (_line(seed=-3), "seed", "greater than"),
    (_line(messages=[{"role": "user", "content": ["part"]}]), "messages[0].content", "multi-part"),
    (
        _line(messages=[{"role": "user", "content": "q", "tool_calls": [{"function": {"name": 5}}]}]),
        "messages[0].tool_calls[0].function.name",
        "valid string",
    ),
    (_line(messages="hello"), "messages", "valid list"),
    (_line(messages=[]), "messages", "at least 1"),
    (_line(tools=[1]), "tools[0]", "valid dictionary"),
    (_line(request="x"), "request", "not a JSON object"),
    ("[" * 100_000, "(line)", "not valid JSON"),
    ('"just a string"', "(line)", "not a JSON object"),
    (
        '{"messages": [{"role": "user", "content": "q"}], "usage": {"completion_tokens": NaN}}',
        "usage.completion_tokens",
        "valid integer",
    ),
]


@pytest.mark.parametrize("text,field,words", BAD)
def test_a_bad_line_is_one_error_naming_file_line_and_field(
    tmp_path: Path, text: str, field: str, words: str
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(_line() + "\n\n" + text + "\n")
    with pytest.raises(SuiteError) as info:
        load_trace(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line 3: {field}: "), message
    assert words in message and "\n" not in message, message


@pytest.mark.parametrize(
    "task_id,expected",
    [
        ("../../etc/passwd", "etc-passwd"),
        ("\u202eevil\x00", "evil-"),
        ("任务", "trace"),
        (7, "7"),
        ("", "trace"),
    ],
)
def test_odd_task_ids_become_valid_ids(tmp_path: Path, task_id: object, expected: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(_line(task_id=task_id) + "\n")
    (step,) = load_trace(path)
    assert step.task_id == expected
    trace_suite(path, [step])  # a valid suite task


def test_special_files_are_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    link = tmp_path / "zero.jsonl"
    link.symlink_to("/dev/zero")
    for path in (Path("/dev/zero"), fifo, link, tmp_path):
        t0 = time.monotonic()
        with pytest.raises(SuiteError) as info:
            load_trace(path)
        assert time.monotonic() - t0 < 5 and "\n" not in str(info.value)
        assert "not a regular file" in str(info.value) or "directory" in str(info.value)


def test_oversized_traces_and_lines_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.run.trace_file as trace_file

    path = tmp_path / "big.jsonl"
    with path.open("wb") as f:
        f.truncate(trace_file.MAX_TRACE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(SuiteError, match="over the 512 MiB limit for a trace file"):
        load_trace(path)
    monkeypatch.setattr(trace_file, "MAX_LINE_BYTES", 1000)
    long = tmp_path / "long.jsonl"
    long.write_text(_line(messages=[{"role": "user", "content": "x" * 5000}]) + "\n")
    with pytest.raises(SuiteError, match=r"line 1: \(line\): longer than"):
        load_trace(long)


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_cli_run_trace_of_a_special_file_exits_2_quickly(tmp_path: Path, target: str) -> None:
    path = Path(target)
    if target == "fifo":
        path = tmp_path / "t.jsonl"
        os.mkfifo(path)
    t0 = time.monotonic()
    done = run_cli("run", "--trace", str(path), "--device", "openai-gpt-4o-mini", timeout=60)
    assert done.returncode == 2, done.stderr
    assert "not a regular file" in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - t0 < 30


def test_malformed_tool_call_arguments_are_replayed_as_sent(tmp_path: Path) -> None:
    """The live loop sent the model's malformed arguments (and counted a tool error): a replay must send
    the same bytes, so the reader keeps them instead of refusing its own trace."""
    call = {"id": "c1", "type": "function", "function": {"name": "calculator", "arguments": '{"expr": "1+'}}
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "error: arguments are not valid JSON"},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text(_line(messages=messages) + "\n")
    (step,) = load_trace(path)
    assert step.messages[1]["tool_calls"][0]["function"]["arguments"] == '{"expr": "1+'
