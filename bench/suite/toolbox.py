"""What an agent task's tools are: ours (a workspace, a database, a sandbox) or a benchmark's own.

The agent loop asks ``open_toolbox`` for one toolbox per attempt at a task and then only uses its
``declarations`` (the OpenAI ``tools`` the model is offered) and ``run`` (one call, never raising: a
failure is a ``ToolResult`` with ``error`` set). A task with ``agent.bfcl`` gets BFCL's executable
classes, one fresh set of instances per attempt (``bench.suite.tools.bfcl``); every other agent task
gets our tools confined to its workspace (``bench.suite.tools``).
"""

from __future__ import annotations

from typing import Any, Protocol

from bench.suite.loader import AgentSpec
from bench.suite.tools import ToolContext, ToolResult, openai_tools, run_tool
from bench.suite.tools.bfcl import BfclToolbox

__all__ = ["Toolbox", "WorkspaceToolbox", "open_toolbox"]


class Toolbox(Protocol):
    declarations: list[dict[str, Any]]

    def run(self, name: str, arguments: Any) -> ToolResult: ...

    def close(self) -> None: ...


class WorkspaceToolbox:
    """Our tools, confined to the task's workspace and database (docs/agents.md)."""

    def __init__(self, spec: AgentSpec) -> None:
        self.declarations = openai_tools(spec.tools)
        self.context = ToolContext(
            spec.workspace_path, spec.database_path, frozenset(spec.tools), spec.python_timeout_s,
            spec.tool_timeout_s,
        )  # fmt: skip

    def run(self, name: str, arguments: Any) -> ToolResult:
        return run_tool(name, arguments, self.context)

    def close(self) -> None:
        """Nothing to release: the tools open what they use per call."""


def open_toolbox(spec: AgentSpec) -> Toolbox:
    """The tools of one attempt at an agent task."""
    if spec.bfcl is not None:
        env = spec.bfcl
        return BfclToolbox(spec.functions, env.involved_classes, env.initial_config, env.long_context)
    return WorkspaceToolbox(spec)
