"""BFCL, the Berkeley Function Calling Leaderboard (``bfcl-eval``, Apache-2.0), as suites.

Data comes from the installed wheel (``bfcl_eval/data/BFCL_v4_<category>.json`` and
``possible_answer/``), prepared as BFCL's own loader prepares it for a model that calls tools natively
(``utils.load_dataset_entry``; ``model_handler/utils.convert_to_tool`` for OpenAI chat completions):
each function's description gets BFCL's Python hint, names lose their dots, types become JSON-schema
types. docs/benchmarks.md lists what is run and how it is judged.

- Single-turn categories (``simple_python`` a.k.a. ``simple``, ``multiple``, ``parallel``,
  ``parallel_multiple``, ``irrelevance`` and their ``live_`` variants, ``live_relevance``): one chat
  request with the functions offered as ``tools``; the ``tool_call`` check judges the calls it made as
  BFCL's AST checker does (``bench.suite.tool_calls``).
- Multi-turn categories (``multi_turn_base``, ``multi_turn_long_context``): an agent task whose tools are
  BFCL's executable classes (``bench.suite.tools.bfcl``), one user turn after another; BFCL's
  multi-turn check judges the calls, turn by turn.

Java and JavaScript categories (their values are strings in those languages' syntax), and the
categories that need more than a function table (``multi_turn_miss_func`` adds functions mid-task,
``multi_turn_miss_param`` has turns that must stay without calls, ``memory``, ``web_search``,
``format_sensitivity``) are not offered.
"""

from __future__ import annotations

import json
from typing import Any

from bench.errors import SuiteError
from bench.suite.checks import BfclMultiTurnCheck, ToolCallCheck
from bench.suite.loader import AgentSpec, BfclEnvironment, Message, PromptSuite, SuiteSource, Task
from bench.suite.sources.packages import BFCL_EVAL, data_root, licence, version
from bench.suite.tool_calls import MadeCall, openai_tools, tool_name

__all__ = [
    "ALIASES", "MULTI_TURN", "PYTHON_HINT", "SINGLE_TURN", "category_of", "load_bfcl", "reference_calls",
]  # fmt: skip

SINGLE_TURN = (
    "simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance", "live_simple",
    "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance", "live_relevance",
)  # fmt: skip
MULTI_TURN = ("multi_turn_base", "multi_turn_long_context")
ALIASES = {"simple": "simple_python"}
PYTHON_HINT = " Note that the provided function is in Python 3 syntax."  # BFCL's _get_language_specific_hint
MAX_STEPS_PER_TURN = 20  # BFCL's MAXIMUM_STEP_LIMIT: a turn needing more calls force-quits the task
MAX_TOKENS = 512  # per reply; BFCL sets none (the provider's default)
_FUNC_DOCS = {  # BFCL's MULTI_TURN_FUNC_DOC_FILE_MAPPING for the classes of the multi-turn categories
    "GorillaFileSystem": "gorilla_file_system.json", "MathAPI": "math_api.json",
    "MessageAPI": "message_api.json", "TwitterAPI": "posting_api.json", "TicketAPI": "ticket_api.json",
    "TradingBot": "trading_bot.json", "TravelAPI": "travel_booking.json",
    "VehicleControlAPI": "vehicle_control.json",
}  # fmt: skip


def category_of(suite: str) -> str:
    """``bfcl-simple`` → ``simple_python``; a SuiteError listing the offered categories otherwise."""
    name = suite.removeprefix("bfcl-")
    name = ALIASES.get(name, name)
    if name not in SINGLE_TURN + MULTI_TURN:
        offered = ", ".join(f"bfcl-{c}" for c in ("simple", *SINGLE_TURN[1:], *MULTI_TURN))
        raise SuiteError(f"unknown BFCL suite '{suite}' (offered: {offered})")
    return name


def _lines(root: Any, relative: str, suite: str) -> list[dict[str, Any]]:
    path = root / "data" / relative
    try:
        text = path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise SuiteError(f"{suite}: {path} could not be read: {exc}") from None


def _first(allowed: list[Any]) -> Any:
    """The first allowed value that is not ``""`` (BFCL's mark of "may be omitted"); ``""`` if none."""
    return next((v for v in allowed if v != ""), "")


def _dict_value(answer: dict[str, list[Any]]) -> dict[str, Any]:
    """A dict argument from BFCL's possible dict: each key's first allowed value (keys only ``""``
    allows are left out)."""
    return {k: _first(v) for k, v in answer.items() if _first(v) != ""}


def reference_calls(
    functions: list[dict[str, Any]], possible_answers: list[dict[str, dict[str, list[Any]]]]
) -> list[MadeCall]:
    """One correct reply from BFCL's possible answers: each expected call with each parameter's first
    allowed value; an optional parameter that may be omitted (``""`` among its values) is left out. A
    dict parameter's possible values are
    dicts of allowed values (a list of dicts: a list of them), one level deep, as BFCL's checker reads
    them."""
    types = {fn["name"]: fn["parameters"].get("properties", {}) for fn in functions}
    required = {fn["name"]: set(fn["parameters"].get("required", [])) for fn in functions}
    calls = []
    for expected in possible_answers:
        name, params = next(iter(expected.items()))
        args: dict[str, Any] = {}
        for param, allowed in params.items():
            if not allowed or ("" in allowed and param not in required.get(name, set())):
                continue  # may be omitted (or nothing is allowed: BFCL's data has a few such entries)
            value = _first(allowed)
            doc = types.get(name, {}).get(param, {})
            if doc.get("type") == "dict" and isinstance(value, dict):
                value = _dict_value(value)
            elif doc.get("type") == "array" and doc.get("items", {}).get("type") == "dict":
                value = [_dict_value(d) if isinstance(d, dict) else d for d in value]
            args[param] = value
        calls.append(MadeCall(tool_name(name), json.dumps(args)))
    return calls


def _single(entry: dict[str, Any], answers: list[Any], category: str) -> Task:
    messages = [Message(role=m["role"], content=m["content"]) for m in entry["question"][0]]
    calls = reference_calls(entry["function"], answers)
    reference = json.dumps([{c.name: json.loads(c.arguments)} for c in calls]) if answers else None
    return Task(
        id=entry["id"],
        category=category,
        messages=messages,
        tools=openai_tools(entry["function"], PYTHON_HINT) or None,  # BFCL sends no tools field then
        max_tokens=MAX_TOKENS,
        check=ToolCallCheck(
            type="tool_call", category=category, functions=entry["function"], possible_answers=answers
        ),
        reference=reference,
    )


def _multi(entry: dict[str, Any], truth: list[list[str]], category: str, tools: dict[str, list[Any]]) -> Task:
    classes = entry["involved_classes"]
    functions = [tool for c in classes for tool in tools[c]]
    turns = [[Message(role=m["role"], content=m["content"]) for m in turn] for turn in entry["question"]]
    long_context = "long_context" in category
    env = BfclEnvironment(
        involved_classes=classes, initial_config=entry.get("initial_config", {}), long_context=long_context
    )
    return Task(
        id=entry["id"],
        category=category,
        messages=turns[0],
        max_tokens=MAX_TOKENS,
        agent=AgentSpec(
            tools=[f["function"]["name"] for f in functions],
            bfcl=env,
            functions=functions,
            turns=turns[1:],
            max_steps_per_turn=MAX_STEPS_PER_TURN,
            max_steps=(MAX_STEPS_PER_TURN + 2) * len(turns),
            max_tokens_total=10_000_000,
            max_tokens_per_call=MAX_TOKENS,
        ),
        check=BfclMultiTurnCheck(
            type="bfcl_multi_turn",
            ground_truth=truth,
            involved_classes=classes,
            initial_config=env.initial_config,
            long_context=long_context,
        ),
    )


def load_bfcl(suite: str) -> PromptSuite:
    """One BFCL category as a suite (``bfcl-simple``, ``bfcl-live_multiple``, ``bfcl-multi_turn_base``)."""
    category = category_of(suite)
    root = data_root(BFCL_EVAL, suite)
    entries = _lines(root, f"BFCL_v4_{category}.json", suite)
    relevance = "relevance" in category  # irrelevance too: no possible answers, a call or none is judged
    answers = [] if relevance else _lines(root, f"possible_answer/BFCL_v4_{category}.json", suite)
    if not relevance and len(answers) != len(entries):
        raise SuiteError(f"{suite}: {len(entries)} entries but {len(answers)} possible answers")
    if category in MULTI_TURN:
        # each class's functions as tools, converted once and shared by every task that involves it
        tools = {
            c: openai_tools(_lines(root, f"multi_turn_func_doc/{f}", suite), PYTHON_HINT)
            for c, f in _FUNC_DOCS.items()
        }
        tasks = [_multi(e, a["ground_truth"], category, tools) for e, a in zip(entries, answers, strict=True)]
    else:  # possible answers line up with the entries by position (BFCL's own rule)
        truths = [a["ground_truth"] for a in answers] if answers else [[] for _ in entries]
        tasks = [_single(e, t, category) for e, t in zip(entries, truths, strict=True)]  # fmt: skip
    return PromptSuite(
        name=f"bfcl-{category}",
        version=version(BFCL_EVAL),
        description=f"BFCL v4 {category} (Berkeley Function Calling Leaderboard)",
        tasks=tasks,
        source=SuiteSource(
            benchmark="BFCL v4",
            package=BFCL_EVAL.dist,
            version=version(BFCL_EVAL),
            licence=licence(BFCL_EVAL),
            category=category,
            prompt_style="multi-turn tools" if category in MULTI_TURN else "tools",
            n_available=len(tasks),
        ),
    )
