"""BFCL's own scorers and converters, loaded for the agreement tests (tests only).

``ast_checker`` imports BFCL's model table (``constants/model_config.py``), which imports every provider
SDK and tree-sitter; ``model_handler/utils.py`` imports the Java and JavaScript parsers (tree-sitter),
``filelock`` and ``tenacity``. None of them is used by the functions called here, so while those modules
load, minimal stand-ins take their place in ``sys.modules`` (only for modules that cannot be imported);
the stand-ins are removed again once BFCL's modules hold what they need. The model table's stand-in
has one model, ``infercost``, that calls tools natively with dots in names turned into underscores, as
the OpenAI-style models BFCL scores that way.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MODEL = "infercost"


class _Inert:
    """Anything BFCL does with an unused import: call it, decorate with it, enter it as a context."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]  # used as a decorator
        return _Inert()

    def __enter__(self) -> _Inert:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _Anything(types.ModuleType):
    """A module whose every attribute is inert (for names imported but never used)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


@contextmanager
def _stand_ins() -> Iterator[None]:
    config = types.ModuleType("bfcl_eval.constants.model_config")
    config.MODEL_CONFIG_MAPPING = {MODEL: types.SimpleNamespace(underscore_to_dot=True)}  # type: ignore[attr-defined]
    shims: dict[str, types.ModuleType] = {"bfcl_eval.constants.model_config": config}
    for name in ("filelock", "tenacity"):
        if importlib.util.find_spec(name) is None:
            shims[name] = _Anything(name)
    if importlib.util.find_spec("tree_sitter") is None:
        for name in (
            "bfcl_eval.model_handler.parser.java_parser",
            "bfcl_eval.model_handler.parser.js_parser",
        ):
            shims[name] = _Anything(name)
    saved = {name: sys.modules.get(name) for name in shims}
    sys.modules.update(shims)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


@functools.cache
def _modules() -> dict[str, Any]:
    with _stand_ins():
        ast_mod = importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")
        multi = importlib.import_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker")
        executor = importlib.import_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils")
        utils = importlib.import_module("bfcl_eval.model_handler.utils")
        enums = importlib.import_module("bfcl_eval.constants.enums")
        top = importlib.import_module("bfcl_eval.utils")
        mappings = importlib.import_module("bfcl_eval.constants.type_mappings")
    return {
        "ast": ast_mod,
        "multi": multi,
        "utils_multi": executor,
        "utils": utils,
        "enums": enums,
        "top": top,
        "maps": mappings,
    }


def ast_verdict(functions: list[dict[str, Any]], decoded: Any, possible: list[Any], category: str) -> bool:
    """BFCL's verdict on one decoded reply, as ``eval_runner`` reaches it for a native-tools model."""
    m = _modules()
    if not m["top"].is_function_calling_format_output(decoded):
        return False
    result = m["ast"].ast_checker(functions, decoded, possible, m["enums"].Language.PYTHON, category, MODEL)
    return bool(result["valid"])


def relevance_verdict(decoded: Any, category: str) -> bool:
    """BFCL's relevance / irrelevance verdict: a call is present iff the reply decoded and is not empty."""
    contains = decoded is not None and not _modules()["top"].is_empty_output(decoded)
    return (not contains) if "irrelevance" in category else contains


def decode_ast(calls: list[tuple[str, str]]) -> Any:
    """A native reply as BFCL's OpenAI handler decodes it (``decode_ast``); None when it raises. No call
    at all is the reply's text, which does not decode."""
    if not calls:
        return None
    try:
        return [{name: __import__("json").loads(args)} for name, args in calls]
    except Exception:
        return None


def decode_execute(calls: list[tuple[str, str]]) -> list[str] | None:
    """A native reply as BFCL's handler decodes it for execution (``convert_to_function_call``); None
    when it raises (the step is skipped)."""
    if not calls:
        return None
    try:
        out = _modules()["utils"].convert_to_function_call([{name: args} for name, args in calls])
    except Exception:
        return None
    return list(out)


_runs = 0


def multi_turn_verdict(
    entry: dict[str, Any], turns: list[list[list[tuple[str, str]]]], truth: list[list[str]]
) -> bool:
    """BFCL's multi-turn verdict (``multi_turn_checker``) on the replies of each turn, decoded as its
    ``eval_runner`` decodes them. Each call gets a model name of its own: BFCL keeps instances in module
    globals keyed by model name and entry id, and would reuse the previous call's otherwise."""
    global _runs
    _runs += 1
    if len(turns) != len(truth):  # BFCL: force-terminated during inference
        return False
    decoded = []
    for steps in turns:
        kept = []
        for step in steps:
            d = decode_execute(step)
            if d is None or len(d) == 0 or (len(d) == 1 and len(d[0]) == 0):
                continue
            kept.append(d)
        decoded.append(kept)
    m = _modules()
    result = m["multi"].multi_turn_checker(
        decoded, truth, entry, entry["id"].rsplit("_", 1)[0], f"agree{_runs}"
    )
    return bool(result["valid"])


def initial_instances(entry: dict[str, Any]) -> dict[str, Any]:
    """The instances BFCL's executor loads for an entry before its first call
    (``execute_multi_turn_func_call`` with no call; the long-context scenario where the entry's category
    names it, as ``multi_turn_checker`` decides)."""
    global _runs
    _runs += 1
    category = entry["id"].rsplit("_", 1)[0]
    _, instances = _modules()["utils_multi"].execute_multi_turn_func_call(
        [], entry.get("initial_config", {}), entry["involved_classes"], f"scenario{_runs}", entry["id"],
        long_context="long_context" in category,
    )  # fmt: skip
    return dict(instances)


def convert_to_tool(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BFCL's conversion of function documents to OpenAI chat-completions ``tools``."""
    m = _modules()
    return list(
        m["utils"].convert_to_tool(
            functions, m["maps"].GORILLA_TO_OPENAPI, m["enums"].ModelStyle.OPENAI_COMPLETIONS
        )
    )


def load_entries(category: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """BFCL's own loader: the prepared test entries and their ground truth."""
    m = _modules()
    entries = m["top"].load_dataset_entry(category)
    truth = [] if "relevance" in category else m["top"].load_ground_truth_entry(category)
    return entries, truth
