"""Agent tools: what an agent task's model may call, implemented for real by the harness.

Each tool has an OpenAI-shaped declaration (name, description, JSON-schema parameters) and a runner that
never raises: unknown names, arguments that do not match the schema and failures inside the tool all
come back as a ``ToolResult`` with ``error`` set, which the agent loop hands to the model as the tool's
result and counts. Outputs are capped in bytes (``MAX_OUTPUT_BYTES``) so a tool cannot flood the
context. File tools are confined to the task's read-only workspace (a directory under ``prompts/``).
No tool runs in the harness's process: every call is a sandboxed process with a deadline and a memory
cap (``bounded.py`` runs ``worker.py``; ``python`` has its own sandbox run), so a hostile argument costs
at most the call's bounds (docs/security.md, "Agent tools").
"""

from bench.suite.tools.registry import (
    MAX_OUTPUT_BYTES,
    TOOL_NAMES,
    ToolContext,
    ToolResult,
    openai_tools,
    run_tool,
    validate_arguments,
)

__all__ = [
    "MAX_OUTPUT_BYTES",
    "TOOL_NAMES",
    "ToolContext",
    "ToolResult",
    "openai_tools",
    "run_tool",
    "validate_arguments",
]
