"""GitHub Actions output for the gate: workflow-command annotations and a Markdown job summary.

Annotations are lines on stdout (``::error title=T::message``) that the runner turns into red marks on the
run and the pull request; the job summary is Markdown appended to the file named by
``$GITHUB_STEP_SUMMARY``. Both are plain strings built here; the CLI decides when to print or append them
(only under ``GITHUB_ACTIONS=true``). Escaping follows the runner's rules (actions/toolkit
``command.ts``): ``%``, CR and LF in messages; additionally ``:`` and ``,`` in properties — a gate message
such as "-5%" would otherwise be read as an escape sequence.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from bench.ci.gate import GateResult, RuleOutcome

__all__ = [
    "annotation",
    "append_step_summary",
    "escape_data",
    "escape_property",
    "gate_annotations",
    "gate_markdown",
    "in_github_actions",
]

_RESULT = {"pass": "✅ PASS", "fail": "❌ FAIL", "no data": "⚠️ NO DATA", "untested": "➖ UNTESTED"}


def in_github_actions(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: Literal["error", "warning", "notice"], title: str, message: str) -> str:
    return f"::{level} title={escape_property(title)}::{escape_data(message)}"


def _message(o: RuleOutcome) -> str:
    return f"{o.metric} {o.value_text} ({o.kind}, limit {o.limit}): {o.detail}"


def gate_annotations(result: GateResult) -> list[str]:
    """One error per failed or undecidable rule, one warning per untested rule."""
    lines = []
    for o in result.outcomes:
        if o.status in ("fail", "no data"):
            lines.append(annotation("error", f"infercost gate: {o.rule}", _message(o)))
        elif o.status == "untested":
            lines.append(annotation("warning", f"infercost gate: {o.rule}", _message(o)))
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def gate_markdown(result: GateResult, run: str, baseline: str | None = None) -> str:
    """The job summary: headline, what was compared, and the rules table."""
    against = f" against baseline {baseline}" if baseline else ""
    lines = [f"### infercost {result.headline}", "", f"Run {run}{against}.", ""]
    lines += [f"- {_cell(n)}" for n in result.notes]
    if result.notes:
        lines.append("")
    lines += ["| rule | kind | value | limit | result | detail |", "|---|---|---:|---|---|---|"]
    for o in result.outcomes:
        cells = [f"`{o.rule}`", o.kind, o.value_text, o.limit, _RESULT[o.status], o.detail]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def append_step_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append to ``$GITHUB_STEP_SUMMARY`` (the runner shows it on the run's page); False when unset."""
    path = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as f:
        f.write(markdown)
    return True
