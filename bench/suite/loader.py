"""Prompt suites: ``prompts/*.toml`` (or ``*.jsonl``) → a validated ``PromptSuite`` with a content hash.

A suite is the unit of comparison: two runs are only comparable when their suite hashes match, so the
hash covers the canonical (validated, defaults filled, key-sorted) content, not the file's bytes. The
same suite written as TOML or JSONL, or re-formatted, hashes the same; changing any task, check or
default changes it.

TOML layout::

    name = "default"
    version = "1.0"
    description = "..."

    [[tasks]]
    id = "capital-france"
    category = "factual"
    messages = [{ role = "user", content = "What is the capital of France?" }]
    max_tokens = 16
    reference = "Paris"
    [tasks.check]
    type = "contains"
    values = ["Paris"]

JSONL: one task object per line; an optional first line ``{"suite": {"name": ..., "version": ...}}``
gives the header (the file stem is the name otherwise). Synthetic llama-bench shapes use
``shape = { prompt_tokens = 512, gen_tokens = 1 }`` with ``check = { type = "none" }``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bench.errors import SuiteError
from bench.suite.checks import Check, NoneCheck
from bench.suite.tools import TOOL_NAMES, validate_arguments
from bench.userfiles import describe_validation_error, read_text_file, read_toml

__all__ = [
    "AgentSpec", "BfclEnvironment", "Message", "PromptSuite", "Shape", "SuiteSource", "SuiteSubset", "Task",
    "ToolCallSpec", "list_suites", "load_suite", "resolve_suite_path",
]  # fmt: skip

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Message(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class Shape(_Strict):
    """A synthetic llama-bench shape: N prompt tokens, M generated tokens (EOS ignored).

    ``depth_tokens`` (llama-bench ``-d``): that many tokens are evaluated into the KV cache first,
    untimed, and the prompt and generation are timed after them. ``parallel`` (llama-batched-bench's
    ``-npl``): that many sequences of prompt + generation at once on one context, one ``llama_decode``
    per step over all of them (``parallel = 1`` too: one sequence measured the same way, the B = 1 row
    of llama-batched-bench's table; without ``parallel`` a shape is llama-bench's); ``shared_prompt``
    (``-pps``) evaluates the prompt once and shares it.
    Both are in-process only (docs/shapes.md); ``bench.run.shape_checks`` refuses them elsewhere.
    """

    prompt_tokens: int = Field(ge=0, le=1_000_000)
    gen_tokens: int = Field(ge=0, le=1_000_000)
    depth_tokens: int = Field(default=0, ge=0, le=1_000_000)
    parallel: int | None = Field(default=None, ge=1, le=1_000_000)
    shared_prompt: bool = False

    @model_validator(mode="after")
    def _something(self) -> Shape:
        if self.prompt_tokens == 0 and self.gen_tokens == 0:
            raise ValueError("a shape needs prompt_tokens or gen_tokens > 0")
        if self.shared_prompt and (self.parallel or 1) < 2:
            raise ValueError("shared_prompt needs parallel >= 2 (it shares one prompt among the sequences)")
        if self.shared_prompt and self.prompt_tokens == 0:
            raise ValueError("shared_prompt needs prompt_tokens > 0 (there is no prompt to share)")
        if self.parallel is not None and self.depth_tokens > 0:
            raise ValueError(
                "give depth_tokens or parallel, not both (llama-bench and llama-batched-bench "
                "measure them apart)"
            )
        return self

    @property
    def is_depth(self) -> bool:
        return self.depth_tokens > 0

    @property
    def is_parallel(self) -> bool:
        return self.parallel is not None

    @property
    def n_seqs(self) -> int:
        return self.parallel or 1

    @property
    def needs_engine(self) -> bool:
        """True for shapes only the in-process engine can run (depth in the KV cache, parallel sequences)."""
        return self.is_depth or self.is_parallel

    @property
    def context_tokens(self) -> int:
        """KV cells the shape fills: depth + prompt + generated, per sequence, times the sequences (the
        shared prompt once), as llama-batched-bench's N_KV."""
        if self.shared_prompt:
            return self.prompt_tokens + self.n_seqs * self.gen_tokens
        return self.depth_tokens + self.n_seqs * (max(self.prompt_tokens, 1) + self.gen_tokens)

    @property
    def label(self) -> str:
        """llama-bench's test name: pp512, tg128 or pp512+tg128; ``@ d4096`` at a depth, as llama-bench
        prints it; ``x4`` for four parallel sequences (``x4 pps`` with a shared prompt)."""
        if self.gen_tokens <= 1 and self.prompt_tokens > 0:
            base = f"pp{self.prompt_tokens}"
        elif self.prompt_tokens == 0:
            base = f"tg{self.gen_tokens}"
        else:
            base = f"pp{self.prompt_tokens}+tg{self.gen_tokens}"
        if self.depth_tokens:
            base += f" @ d{self.depth_tokens}"
        if self.parallel is not None:
            base += f" x{self.parallel}" + (" pps" if self.shared_prompt else "")
        return base


_SHAPE_DEFAULTS: dict[str, Any] = {"depth_tokens": 0, "parallel": None, "shared_prompt": False}
_AGENT_DEFAULTS: dict[str, Any] = {"bfcl": None, "functions": [], "turns": [], "max_steps_per_turn": None}


class ToolCallSpec(_Strict):
    """One step of a reference trajectory: a tool call the tests replay without a model."""

    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class BfclEnvironment(_Strict):
    """BFCL's executable back-ends as an agent task's tools (docs/benchmarks.md): one instance of each
    ``involved_classes`` per attempt, loaded from ``initial_config`` (the test entry's, as BFCL does);
    ``long_context`` loads their long-context scenario."""

    involved_classes: list[str] = Field(min_length=1)
    initial_config: dict[str, Any] = Field(default_factory=dict)
    long_context: bool = False


class AgentSpec(_Strict):
    """``agent = { tools = [...], max_steps, max_tokens_total }``: the task is a loop of model and tool
    calls (docs/agents.md). ``workspace`` is a directory under ``prompts/`` the file tools are confined
    to; ``database`` a SQLite file inside it for ``sqlite_query``; ``solution`` the reference trajectory
    (tool calls, then the task's ``reference`` as the final answer).

    Public benchmarks (docs/benchmarks.md) add: ``bfcl`` (BFCL's classes are the tools instead of ours,
    declared in ``functions`` as OpenAI tools; ``tools`` then names them), ``turns`` (the user turns that
    follow the first: each starts when the model answers the previous one without a call) and
    ``max_steps_per_turn`` (BFCL ends a task whose turn needs more calls than that)."""

    tools: list[str] = Field(min_length=1)
    bfcl: BfclEnvironment | None = None
    functions: list[dict[str, Any]] = Field(default_factory=list)
    turns: list[list[Message]] = Field(default_factory=list)
    max_steps_per_turn: int | None = Field(default=None, ge=1, le=1000)
    max_steps: int = Field(default=8, ge=1, le=1000)
    max_tokens_total: int = Field(default=16384, ge=1, le=10_000_000)
    max_tokens_per_call: int = Field(default=256, ge=1, le=131072)
    workspace: str = "agent_workspace"
    database: str | None = None
    python_timeout_s: float = Field(default=10.0, gt=0, le=120)
    tool_timeout_s: float = Field(default=5.0, gt=0, le=60)  # every other tool's deadline (docs/security.md)
    solution: list[ToolCallSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known(self) -> AgentSpec:
        if self.bfcl is not None:  # the tools are BFCL's, declared in ``functions``
            declared = [f.get("function", {}).get("name") for f in self.functions]
            if sorted(declared) != sorted(self.tools):
                raise ValueError("bfcl: functions must declare exactly the tools listed")
            return self
        if self.functions or self.turns:
            raise ValueError("functions and turns are for bfcl tasks (docs/benchmarks.md)")
        for name in self.tools:
            if name not in TOOL_NAMES:
                raise ValueError(f"unknown tool '{name}' (known: {', '.join(sorted(TOOL_NAMES))})")
        if len(set(self.tools)) != len(self.tools):
            raise ValueError("a tool is listed twice")
        root = self.workspace_path  # raises for a path outside prompts/
        if not root.is_dir():
            raise ValueError(f"workspace '{self.workspace}' is not a directory under prompts/")
        if self.database is not None:
            db = (root / self.database).resolve()
            if root not in db.parents or not db.is_file():
                raise ValueError(f"database '{self.database}' is not a file inside the workspace")
        if "sqlite_query" in self.tools and self.database is None:
            raise ValueError('sqlite_query needs a database (database = "FILE" inside the workspace)')
        for i, call in enumerate(self.solution):
            if call.tool not in self.tools:
                raise ValueError(f"solution[{i}]: tool '{call.tool}' is not in this task's tools")
            problem = validate_arguments(call.tool, call.arguments)
            if problem:
                raise ValueError(f"solution[{i}]: {problem}")
        return self

    @property
    def workspace_path(self) -> Path:
        base = PROMPTS_DIR.resolve()
        root = (base / self.workspace).resolve()
        if root == base or base not in root.parents:
            raise ValueError(f"workspace '{self.workspace}' is outside prompts/ (give a directory under it)")
        return root

    @property
    def database_path(self) -> Path | None:
        return (self.workspace_path / self.database).resolve() if self.database else None


class SuiteSource(_Strict):
    """Where a suite that is not ours came from (docs/benchmarks.md): the package that carries its data,
    that package's version and licence, the benchmark's category, and the prompt style used; the
    manifest records it and reports name it."""

    benchmark: str
    package: str
    version: str
    licence: str
    category: str
    prompt_style: str
    n_available: int = Field(ge=1)


class SuiteSubset(_Strict):
    """The part of a suite a run ran (``--tasks GLOB``, ``--sample N --seed S``): runs are only compared
    when they ran the same subset (the suite hash covers the chosen tasks; this says how they were
    chosen)."""

    tasks: str | None = None
    sample: int | None = None
    seed: int | None = None
    n_selected: int
    n_total: int


class Task(_Strict):
    """One task: the input (messages, prompt or shape), generation settings and the success check."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*$", max_length=128)
    category: str = Field(default="general", min_length=1, max_length=64)
    messages: list[Message] | None = None
    prompt: str | None = None
    shape: Shape | None = None
    max_tokens: int = Field(default=256, ge=1, le=131072)
    # strings that end the answer where the backend supports it (HumanEval's completion style)
    stop: list[str] | None = Field(default=None, max_length=8)
    # OpenAI ``tools`` offered to a single request (BFCL): the model answers with calls, which the
    # ``tool_call`` check judges (they are declared, never run)
    tools: list[dict[str, Any]] | None = Field(default=None, min_length=1)
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    seed: int = Field(default=1234, ge=0, lt=2**31)
    check: Check
    reference: str | None = None
    description: str | None = None
    agent: AgentSpec | None = None

    @model_validator(mode="after")
    def _one_input(self) -> Task:
        given = [n for n in ("messages", "prompt", "shape") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of messages, prompt or shape"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.messages is not None:
            if not self.messages:
                raise ValueError("messages is empty; add at least one user message")
            if self.messages[-1].role != "user":
                raise ValueError('the last message must have role = "user"')
        if self.agent is not None:
            if self.messages is None:
                raise ValueError("an agent task needs messages (its first user turn), not prompt or shape")
            if isinstance(self.check, NoneCheck):
                raise ValueError('an agent task needs a check that judges its final answer, not "none"')
        if self.shape is not None and not isinstance(self.check, NoneCheck):
            raise ValueError('a synthetic shape has no answer to check: use check = { type = "none" }')
        if self.tools is not None:
            if self.messages is None or self.agent is not None:
                raise ValueError("tools are offered to a single chat request: give messages, not agent")
            for i, tool in enumerate(self.tools):
                fn = tool.get("function") if tool.get("type") == "function" else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise ValueError(
                        f'tools[{i}]: expected {{"type": "function", "function": {{"name": ...}}}}'
                    )
        return self

    @property
    def is_shape(self) -> bool:
        return self.shape is not None

    @property
    def generation_limit(self) -> int:
        """Tokens to generate: the shape's count for synthetic tasks, else max_tokens."""
        return self.shape.gen_tokens if self.shape is not None else self.max_tokens


class PromptSuite(_Strict):
    """A validated suite. ``suite_hash`` identifies its content; ``path`` where it was read from."""

    name: str = Field(min_length=1, max_length=128)
    version: str = "1"
    description: str = ""
    tasks: list[Task] = Field(min_length=1)
    source: SuiteSource | None = None
    subset: SuiteSubset | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> PromptSuite:
        seen: dict[str, int] = {}
        for i, task in enumerate(self.tasks):
            if task.id in seen:
                raise ValueError(
                    f'duplicate task id "{task.id}" (tasks[{seen[task.id]}] and tasks[{i}]); '
                    "ids must be unique"
                )
            seen[task.id] = i
        return self

    @property
    def suite_hash(self) -> str:
        """sha256 over the canonical JSON of the validated content (format and layout independent)."""
        content = self.model_dump(mode="json", by_alias=True)
        for key in ("source", "subset"):  # a suite of our own hashes as before public benchmarks
            if content.get(key) is None:
                content.pop(key, None)
        for task in content["tasks"]:  # a task without `agent` hashes as it did before agent tasks existed
            for key in ("agent", "stop", "tools"):
                if task.get(key) is None:
                    task.pop(key, None)
            agent = task.get("agent")
            if agent:  # nor does an agent task of ours, before BFCL's
                for key, default in _AGENT_DEFAULTS.items():
                    if agent.get(key) == default:
                        agent.pop(key)
            shape = task.get("shape")
            if shape:  # a plain shape hashes as it did before depth and parallel shapes existed
                for key, default in _SHAPE_DEFAULTS.items():
                    if shape.get(key) == default:
                        shape.pop(key)
        canonical = json.dumps(
            content,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def has_agent_tasks(self) -> bool:
        return any(t.agent is not None for t in self.tasks)

    @property
    def has_tool_tasks(self) -> bool:
        """True when a single-request task offers tools (BFCL): it needs a backend that chats."""
        return any(t.tools is not None for t in self.tasks)

    @property
    def is_shapes(self) -> bool:
        """True when every task is a synthetic shape (the llama-bench table applies)."""
        return all(t.is_shape for t in self.tasks)

    @property
    def categories(self) -> list[str]:
        return list(dict.fromkeys(t.category for t in self.tasks))


def resolve_suite_path(name_or_path: str) -> Path:
    """A NAME resolves to ``prompts/NAME.toml`` (or ``.jsonl``); anything with a slash or suffix is a path."""
    candidate = Path(name_or_path)
    if candidate.suffix or "/" in name_or_path or candidate.exists():
        return candidate
    for ext in (".toml", ".jsonl"):
        path = PROMPTS_DIR / f"{name_or_path}{ext}"
        if path.exists():
            return path
    known = ", ".join(s.stem for s in list_suites()) or "none"
    raise SuiteError(
        f"unknown suite '{name_or_path}' (known: {known}; or give a path to a .toml/.jsonl file)"
    )


def list_suites() -> list[Path]:
    if not PROMPTS_DIR.is_dir():
        return []
    return sorted(p for p in PROMPTS_DIR.iterdir() if p.suffix in (".toml", ".jsonl"))


def _read_jsonl(path: Path) -> dict[str, Any]:
    text = read_text_file(path, SuiteError, "suite")
    header: dict[str, Any] = {"name": path.stem}
    tasks: list[Any] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{path}: line {lineno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise SuiteError(f"{path}: line {lineno}: nested too deeply to be a task") from None
        if isinstance(obj, dict) and set(obj) == {"suite"} and isinstance(obj["suite"], dict):
            if tasks:
                raise SuiteError(f"{path}: line {lineno}: the suite header must be the first line")
            header.update(obj["suite"])
            continue
        tasks.append(obj)
    return {**header, "tasks": tasks}


def load_suite(name_or_path: str | Path) -> PromptSuite:
    """Load and validate a suite; every problem is a one-line ``SuiteError`` naming file and field."""
    path = resolve_suite_path(str(name_or_path))
    if path.suffix == ".jsonl":
        data = _read_jsonl(path)
    else:
        data = read_toml(path, SuiteError, "suite")
        data.setdefault("name", path.stem)
    if not isinstance(data.get("tasks"), list) or not data["tasks"]:
        raise SuiteError(f"{path}: no tasks (add at least one [[tasks]] table with id, messages and check)")
    try:
        return PromptSuite.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(describe_validation_error(path, exc, data, PromptSuite)) from None
    except RecursionError:
        raise SuiteError(f"{path}: nested too deeply to be a suite") from None
