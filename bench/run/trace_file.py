"""Reading a trace file (``infercost run --trace FILE``) the way suites are read: refuse, never hang.

A trace is JSONL, one chat-completion request per line, as infercost writes ``trace.jsonl`` for every
agent run and as OpenAI-format proxy logs look: the request (``messages``, optional ``tools``) either at
the top level or under ``request``, and the recorded usage (``usage`` at the top level or under
``response``). Lines group into tasks by ``task_id`` and ``repetition`` (one task, ``trace``, when
absent), in file order; infercost's warmup lines are skipped.

The file comes from anywhere (a proxy log, a colleague), so it is read like a suite:

- only a regular file of at most ``MAX_TRACE_BYTES`` is opened (``userfiles.open_regular``: stat'ed
  first, opened without blocking), so ``--trace /dev/zero`` or a FIFO is refused at once;
- it is read line by line, each line at most ``MAX_LINE_BYTES``;
- each line is validated by pydantic models (``_Line``, ``_Request``, ``_Usage``): types are strict
  (``"completion_tokens": "5"``, ``1e18`` or ``true`` are errors, not numbers), token counts within what a
  model can produce, task ids strings or integers;

and every problem is one ``SuiteError`` line naming the file, the line and the field, before anything
runs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from bench.errors import SuiteError
from bench.suite.loader import PromptSuite, Task
from bench.userfiles import one_line, open_regular

__all__ = [
    "MAX_COMPLETION_TOKENS",
    "MAX_LINE_BYTES",
    "MAX_TRACE_BYTES",
    "TraceStep",
    "load_trace",
    "steps_by_task",
    "trace_suite",
]

MAX_TRACE_BYTES = 512 * 2**20  # an agent run's trace.jsonl is megabytes; a proxy log of a day, hundreds
MAX_LINE_BYTES = 64 * 2**20
MAX_COMPLETION_TOKENS = 131_072  # a task's own max_tokens bound (suite/loader.py)
MAX_PROMPT_TOKENS = 100_000_000
MAX_REPETITION = 1_000_000


@dataclass(frozen=True)
class TraceStep:
    task_id: str
    step: int
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    completion_tokens: int
    prompt_tokens: int | None
    temperature: float
    seed: int


class _Loose(BaseModel):
    """A part of a recorded request: the fields replay reads are checked, the rest passes through."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class _Function(_Loose):
    # ``arguments`` is kept as the model wrote it, valid JSON or not: the live loop sent (and counted as a
    # tool error) whatever the model produced, and a replay must send the same bytes to be billed the same
    name: StrictStr
    arguments: StrictStr | None = None


class _ToolCall(_Loose):
    function: _Function


class _Message(_Loose):
    role: Literal["system", "user", "assistant", "tool"]
    content: Any = None
    tool_calls: list[_ToolCall] | None = None

    @field_validator("content")
    @classmethod
    def _text(cls, content: Any) -> Any:
        if content is not None and not isinstance(content, str):
            raise ValueError("not a string (multi-part content is not replayed)")
        return content


class _Tool(_Loose):
    function: dict[str, Any]


class _Request(_Loose):
    messages: list[_Message] = Field(min_length=1)
    tools: list[_Tool] | None = None
    temperature: float | None = Field(default=None, ge=0, le=5, strict=True)
    seed: StrictInt | None = Field(default=None, ge=0, lt=2**31)


class _Usage(_Loose):
    completion_tokens: StrictInt = Field(ge=0, le=MAX_COMPLETION_TOKENS)
    prompt_tokens: StrictInt | None = Field(default=None, ge=0, le=MAX_PROMPT_TOKENS)


class _Line(_Loose):
    task_id: Any = None
    repetition: StrictInt | None = Field(default=None, ge=0, le=MAX_REPETITION)
    warmup: StrictBool | None = None

    @field_validator("task_id")
    @classmethod
    def _id(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            raise ValueError("not a valid id: give a string or a whole number")
        return value


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(line)"


def _fail(path: Path, lineno: int, field: str, problem: str) -> SuiteError:
    return SuiteError(one_line(f"{path}: line {lineno}: {field}: {problem}"))


def _validated(model: type[_Loose], data: Any, path: Path, lineno: int, prefix: str = "") -> _Loose:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = _where(tuple(first.get("loc", ())))
        if prefix:
            field = prefix if field == "(line)" else f"{prefix}.{field}"
        problem = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        if first.get("type") == "missing" and field == "messages":
            problem = "not a non-empty list (is this a chat-completion request?)"
        raise _fail(path, lineno, field, problem) from None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open_regular(path, SuiteError, "trace", MAX_TRACE_BYTES) as f:
        lineno = 0
        while raw := f.readline(MAX_LINE_BYTES + 1):
            lineno += 1
            if len(raw) > MAX_LINE_BYTES:
                raise _fail(path, lineno, "(line)", f"longer than {MAX_LINE_BYTES // 2**20} MiB")
            yield lineno, raw


def _step(path: Path, lineno: int, obj: dict[str, Any]) -> tuple[_Line, _Request, _Usage] | None:
    head = _validated(_Line, obj, path, lineno)
    assert isinstance(head, _Line)
    raw_req = obj.get("request")
    nested = isinstance(raw_req, dict)
    if raw_req is not None and not nested:
        raise _fail(path, lineno, "request", "not a JSON object")
    req = _validated(_Request, raw_req if nested else obj, path, lineno)
    assert isinstance(req, _Request)
    response = obj.get("response")
    usage_data = obj.get("usage")
    if usage_data is None and isinstance(response, dict):
        usage_data = response.get("usage")
    if not isinstance(usage_data, dict):
        raise _fail(path, lineno, "usage", "missing: replay needs the recorded completion_tokens")
    usage = _validated(_Usage, usage_data, path, lineno, "usage")
    assert isinstance(usage, _Usage)
    if head.warmup is True:  # infercost's own warmup attempts are not part of the workload
        return None
    return head, req, usage


def load_trace(path: Path) -> list[TraceStep]:
    """Validate and read a trace file (see the module docstring)."""
    steps: list[TraceStep] = []
    counters: dict[str, int] = {}
    for lineno, raw in _lines(path):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            raise _fail(path, lineno, "(line)", "not valid JSON") from None
        if not isinstance(obj, dict):
            raise _fail(path, lineno, "(line)", "not a JSON object")
        parsed = _step(path, lineno, obj)
        if parsed is None:
            continue
        head, req, usage = parsed
        raw_id = str(head.task_id) if head.task_id not in (None, "") else "trace"
        if head.repetition is not None:
            raw_id += f".r{head.repetition}"  # each recorded attempt replays as its own task
        task_id = re.sub(r"[^A-Za-z0-9_.:+-]", "-", raw_id)[:128].lstrip("-.:+_") or "trace"
        step = counters.get(task_id, 0)
        counters[task_id] = step + 1
        source = obj["request"] if isinstance(obj.get("request"), dict) else obj
        steps.append(
            TraceStep(
                task_id=task_id,
                step=step,
                messages=source["messages"],
                tools=source.get("tools") or None,
                completion_tokens=usage.completion_tokens,
                prompt_tokens=usage.prompt_tokens,
                temperature=req.temperature if req.temperature is not None else 0.0,
                seed=req.seed if req.seed is not None else 1234,
            )
        )
    if not steps:
        raise SuiteError(f"{path}: the trace has no requests")
    return steps


def steps_by_task(steps: list[TraceStep]) -> dict[str, list[TraceStep]]:
    """Each traced task's steps in trace order, tasks in order of first appearance (grouped once: a
    trace of thousands of steps is not rescanned per task)."""
    grouped: dict[str, list[TraceStep]] = {}
    for s in steps:
        grouped.setdefault(s.task_id, []).append(s)
    return grouped


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open_regular(path, SuiteError, "trace", MAX_TRACE_BYTES) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def trace_suite(path: Path, steps: list[TraceStep]) -> PromptSuite:
    """A suite with one task per traced task id; its hash covers the trace's bytes."""
    digest = _digest(path)
    tasks = [
        Task.model_validate(
            {
                "id": tid,
                "category": "trace",
                "messages": [{"role": "user", "content": f"replay of {tid}"}],
                "max_tokens": max(1, max(s.completion_tokens for s in own)),
                "check": {"type": "none"},
                "description": f"{len(own)} steps",
            }
        )
        for tid, own in steps_by_task(steps).items()
    ]
    return PromptSuite(
        name=f"trace-{path.stem}", version=digest[:16], description=f"replay of {path}", tasks=tasks
    )
