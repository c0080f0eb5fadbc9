"""The agent suite and its tools, without a model: every task's reference trajectory replays for real,
each tool call succeeds, the answer is grounded in what the tools returned, and the check passes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench.errors import SuiteError
from bench.suite.checks import ContainsCheck, NumberCheck, PythonTestCheck, evaluate
from bench.suite.loader import PROMPTS_DIR, load_suite
from bench.suite.tools import MAX_OUTPUT_BYTES, TOOL_NAMES, ToolContext, run_tool

SUITE = load_suite("agent")
AGENT_TASKS = [t for t in SUITE.tasks if t.agent is not None]
WORKSPACE = PROMPTS_DIR / "agent_workspace"


def _ctx(task) -> ToolContext:  # type: ignore[no-untyped-def]
    spec = task.agent
    return ToolContext(spec.workspace_path, spec.database_path, frozenset(spec.tools), spec.python_timeout_s)


def test_suite_shape() -> None:
    assert len(AGENT_TASKS) >= 12
    assert len({t.category for t in AGENT_TASKS}) >= 4
    used = {c.tool for t in AGENT_TASKS for c in t.agent.solution}  # type: ignore[union-attr]
    assert used == TOOL_NAMES  # every tool is exercised by some reference trajectory


@pytest.mark.parametrize("task", AGENT_TASKS, ids=lambda t: t.id)
def test_reference_trajectory_replays(task) -> None:  # type: ignore[no-untyped-def]
    spec = task.agent
    assert 2 <= len(spec.solution) <= 6, "each task needs 2-6 tool calls"
    ctx = _ctx(task)
    outputs = []
    for call in spec.solution:
        result = run_tool(call.tool, call.arguments, ctx)
        assert not result.error, f"{call.tool} failed: {result.content}"
        outputs.append(result.content)
    answer = task.reference
    verdict = evaluate(task.check, answer)
    assert verdict.passed, verdict.detail
    seen = "\n".join(outputs)
    if isinstance(task.check, NumberCheck):  # the value the check wants came out of a tool
        assert evaluate(
            NumberCheck(
                type="number", value=task.check.value, tolerance=task.check.tolerance + 1e-6, pick="any"
            ),
            seen,
        ).passed
    elif isinstance(task.check, ContainsCheck):
        assert evaluate(task.check, seen).passed, seen[:500]
    elif isinstance(task.check, PythonTestCheck):
        assert "tests pass" in outputs[-1]
        assert not evaluate(
            task.check, run_tool("read_file", {"path": "code/" + _module(task)}, ctx).content
        ).passed


def _module(task) -> str:  # type: ignore[no-untyped-def]
    return next(c.arguments["path"] for c in task.agent.solution if c.tool == "read_file").split("/")[-1]


def test_database_matches_its_sql() -> None:
    """shop.db is built from shop.sql; the shipped binary must hold the same rows."""
    mem = sqlite3.connect(":memory:")
    mem.executescript((WORKSPACE / "shop.sql").read_text())
    disk = sqlite3.connect(f"{(WORKSPACE / 'shop.db').as_uri()}?mode=ro", uri=True)
    assert list(mem.iterdump()) == list(disk.iterdump())


@pytest.fixture()
def ctx() -> ToolContext:
    return ToolContext(WORKSPACE.resolve(), (WORKSPACE / "shop.db").resolve(), TOOL_NAMES, 2.0)


@pytest.mark.parametrize(
    "name,args,needle",
    [
        ("read_file", {"path": "../agent.toml"}, "outside the workspace"),
        ("read_file", {"path": "/etc/passwd"}, "no such file"),
        ("grep", {"pattern": "root", "path": "../../"}, "outside the workspace"),
        ("list_files", {"path": "../.."}, "outside the workspace"),
        ("grep", {"pattern": "("}, "bad regular expression"),
        ("sqlite_query", {"query": "DELETE FROM orders"}, "not authorized"),
        ("sqlite_query", {"query": "CREATE TABLE x (a)"}, "not authorized"),
        ("sqlite_query", {"query": "ATTACH DATABASE ':memory:' AS m"}, "not authorized"),
        ("sqlite_query", {"query": "PRAGMA writable_schema = 1"}, "not authorized"),
        ("sqlite_query", {"query": "SELECT 1; SELECT 2"}, "sqlite"),
        (
            "sqlite_query",
            {"query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"},
            "too long",
        ),
        ("calculator", {"expression": "__import__('os').system('true')"}, "not allowed"),
        ("calculator", {"expression": "9**9**9"}, "too large"),
        ("calculator", {"expression": "1/0"}, "division by zero"),
        # the sandbox contains rather than blocks: limits the code cannot raise, files capped in size
        (
            "python",
            {"code": "import resource; resource.setrlimit(resource.RLIMIT_CPU, (10**6, 10**6))"},
            "Error",
        ),
        ("python", {"code": "open('big', 'wb').write(b'x' * (4 << 20))"}, "File too large"),
        ("python", {"code": "while True: pass"}, "killed after"),
        ("nope", {}, "unknown tool"),
        ("calculator", {"expr": "1"}, "bad arguments"),
        ("calculator", "1+1", "must be a JSON object"),
    ],
)
def test_tool_errors_are_results(ctx: ToolContext, name: str, args: object, needle: str) -> None:
    result = run_tool(name, args, ctx)
    assert result.error
    assert needle in result.content, result.content


def test_symlink_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "secret.txt").write_text("s3cret")
    (tmp_path / "ws" / "link.txt").symlink_to(tmp_path / "secret.txt")
    c = ToolContext(tmp_path / "ws", None, TOOL_NAMES)
    result = run_tool("read_file", {"path": "link.txt"}, c)
    assert result.error and "s3cret" not in result.content


def test_output_bounded_and_usage_measured(ctx: ToolContext) -> None:
    result = run_tool("python", {"code": "x = bytearray(64 * 2**20)\nprint('y' * 10**6)"}, ctx)
    assert not result.error
    assert result.truncated and len(result.content.encode()) < MAX_OUTPUT_BYTES + 200
    assert result.output_bytes > MAX_OUTPUT_BYTES
    assert result.peak_rss_mb is not None and result.peak_rss_mb >= 64  # the child's own rusage
    assert result.cpu_s > 0


def test_database_is_not_modified(ctx: ToolContext) -> None:
    before = (WORKSPACE / "shop.db").read_bytes()
    run_tool("sqlite_query", {"query": "DROP TABLE orders"}, ctx)
    assert (WORKSPACE / "shop.db").read_bytes() == before


BAD = [
    ('agent = { tools = ["calculator"] }\n', "check", "required field is missing"),
    (
        'agent = { tools = ["teleport"] }\ncheck = { type = "number", value = 1 }\n',
        "agent",
        "unknown tool 'teleport'",
    ),
    (
        'agent = { tools = ["read_file"], workspace = "../bench" }\ncheck = { type = "number", value = 1 }\n',
        "agent",
        "outside prompts/",
    ),
    ('agent = { tools = ["calculator"] }\ncheck = { type = "none" }\n', "tasks[0]", "needs a check"),
    (
        'agent = { tools = ["sqlite_query"] }\ncheck = { type = "number", value = 1 }\n',
        "agent",
        "needs a database",
    ),
    (
        'agent = { tools = ["calculator"], solution = [{ tool = "calculator", arguments = { expr = "1" } }] }\ncheck = { type = "number", value = 1 }\n',
        "solution[0]",
        "bad arguments",
    ),
]


@pytest.mark.parametrize("body,field,needle", BAD, ids=[b[2] for b in BAD])
def test_bad_agent_tasks_fail_at_load(tmp_path: Path, body: str, field: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'[[tasks]]\nid = "t"\nmessages = [{{ role = "user", content = "q" }}]\n{body}')
    with pytest.raises(SuiteError) as exc:
        load_suite(path)
    message = str(exc.value)
    assert "\n" not in message and str(path) in message and field in message and needle in message
