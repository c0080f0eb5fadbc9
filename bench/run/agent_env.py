"""What an agent task acts on: the tools its model may call and the check that ends the task.

The agent loop (``bench.run.agent``) knows nothing about particular tools or checks: it asks the task's
``AgentEnvironment`` for the tool declarations to send, hands it each call the model makes, and asks it
for the verdict once the model answers. The built-in environment (``WorkspaceEnvironment``) runs the
harness's own tools (``bench.suite.tools``) confined to the task's workspace and judges the final answer
with the task's check. A suite source whose tasks carry their own tools and a state-based check (BFCL's
multi-turn tasks judge the tools' final state, not the answer text) registers an environment for its
tasks with ``register_environment``; the first registered environment that claims a task runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bench.suite.checks import CheckResult, evaluate
from bench.suite.loader import Task
from bench.suite.tools import ToolContext, ToolResult, openai_tools, run_tool

__all__ = [
    "AgentEnvironment",
    "EnvironmentFactory",
    "WorkspaceEnvironment",
    "environment_for",
    "register_environment",
]


class AgentEnvironment(Protocol):
    """One attempt's world: made fresh for every attempt, so state a tool changes never leaks into the
    next repetition."""

    def tools(self) -> list[dict[str, Any]]:
        """The tool declarations in the OpenAI ``tools`` shape (what the model is offered)."""
        ...

    def call(self, name: str, arguments: Any) -> ToolResult:
        """Run one tool call with parsed arguments; never raises for anything the model can do (an
        unknown tool or bad arguments come back as a ``ToolResult`` with ``error`` set)."""
        ...

    def verdict(self, final_text: str) -> CheckResult:
        """Did the attempt do its task, given the model's final answer (and whatever the tools did)?"""
        ...


EnvironmentFactory = Callable[[Task], AgentEnvironment]


@dataclass(frozen=True)
class WorkspaceEnvironment:
    """The harness's own tools on the task's read-only workspace; the task's check judges the answer."""

    task: Task

    def _context(self) -> ToolContext:
        spec = self.task.agent
        assert spec is not None
        return ToolContext(
            spec.workspace_path, spec.database_path, frozenset(spec.tools), spec.python_timeout_s
        )

    def tools(self) -> list[dict[str, Any]]:
        assert self.task.agent is not None
        return openai_tools(self.task.agent.tools)

    def call(self, name: str, arguments: Any) -> ToolResult:
        return run_tool(name, arguments, self._context())

    def verdict(self, final_text: str) -> CheckResult:
        return evaluate(self.task.check, final_text)


_REGISTERED: list[tuple[str, Callable[[Task], bool], EnvironmentFactory]] = []


def register_environment(name: str, claims: Callable[[Task], bool], build: EnvironmentFactory) -> None:
    """Run the tasks ``claims`` accepts in environments ``build`` makes (registering ``name`` again
    replaces the earlier entry)."""
    _REGISTERED[:] = [entry for entry in _REGISTERED if entry[0] != name]
    _REGISTERED.append((name, claims, build))


def environment_for(task: Task) -> AgentEnvironment:
    """A fresh environment for one attempt at ``task``: the first registered one that claims it, else
    the workspace tools."""
    for _, claims, build in _REGISTERED:
        if claims(task):
            return build(task)
    return WorkspaceEnvironment(task)
