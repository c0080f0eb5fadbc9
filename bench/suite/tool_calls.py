"""Function calls judged as BFCL's AST checker judges them, and BFCL's functions as OpenAI ``tools``.

A port of bfcl-eval's ``eval_checker/ast_eval/ast_checker.py`` (Apache-2.0, the Gorilla / BFCL authors,
version 2026.3.23) for Python-typed functions, with the decoding step its runner puts in front of it
(``eval_runner._evaluate_single_ast_entry`` and ``_evaluate_single_relevance_entry``, for a model that
calls tools natively). Ported, not imported: the checker module imports BFCL's model table, which
imports every provider SDK and tree-sitter. ``tests/suite/test_bfcl_agreement.py`` runs the authors'
checker beside this one on the possible answers, recorded model outputs and mutated answers; any
disagreement fails it.

What BFCL does, and so what this does (quirks included, since they decide verdicts):

- decoding: every call's arguments are parsed with ``json.loads``; one that does not parse, or a reply
  without any call, fails to decode (an AST category fails; irrelevance passes: "no call");
- a parameter's value must have the documented type exactly (``bool`` is not an ``int``; an ``int`` is
  accepted for a ``float``); a value of the possible answers' own type is accepted as a "variable";
- strings compare case-insensitively with spaces and ``,./-_*^`` removed; lists element-wise the same;
- a parameter absent from the possible answers is unexpected; an omitted one is fine only when its
  possible answers include ``""``;
- ``parallel`` categories match the expected calls in any order, ``multiple`` judges the one call
  against the expected function, the rest need exactly one call;
- function names with dots are offered with underscores (OpenAI allows no dots), and expected so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MadeCall", "judge_calls", "openai_tools", "rule_for", "tool_name"]


@dataclass(frozen=True, slots=True)
class MadeCall:
    """One tool call a model made: its name and its arguments as the JSON text the model wrote (a call
    in the text protocol: as re-serialized). The judge decodes it, as BFCL does."""

    name: str
    arguments: str


_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_NESTED = ("array", "tuple")
# BFCL's GORILLA_TO_OPENAPI: its parameter types as JSON-schema types
_OPENAPI = {
    "integer": "integer", "number": "number", "float": "number", "string": "string", "boolean": "boolean",
    "bool": "boolean", "array": "array", "list": "array", "dict": "object", "object": "object",
    "tuple": "array", "any": "string", "byte": "integer", "short": "integer", "long": "integer",
    "double": "number", "char": "string", "ArrayList": "array", "Array": "array", "HashMap": "object",
    "Hashtable": "object", "Queue": "array", "Stack": "array", "Any": "string", "String": "string",
    "Bigint": "integer",
}  # fmt: skip
_RULES = ("relevance", "irrelevance", "parallel", "multiple", "simple")


class _Fail(Exception):
    """A verdict of "invalid", with BFCL's error type and message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")


def rule_for(category: str) -> str:
    """Which of BFCL's rules judges ``category`` (its own test: a substring of the category name)."""
    if "irrelevance" in category:
        return "irrelevance"
    if "relevance" in category:
        return "relevance"
    if category.startswith(("multi_turn", "memory", "web_search", "format_sensitivity")):
        raise ValueError(f"category '{category}' is not judged by the AST checker")
    if "java" in category:  # javascript too
        raise ValueError(f"category '{category}': only Python-typed categories are judged here")
    if "parallel" in category:
        return "parallel"
    if "multiple" in category:
        return "multiple"
    return "simple"


def tool_name(name: str) -> str:
    """The name a function is offered (and expected) under: dots become underscores, as BFCL does for
    OpenAI-style models (``^[a-zA-Z0-9_-]{1,64}$``)."""
    return name.replace(".", "_")


# ---------------------------------------------------------------------------------------- offering
def _cast(properties: dict[str, Any]) -> dict[str, Any]:
    """BFCL's ``_cast_to_openai_type`` with ``GORILLA_TO_OPENAPI``: types to JSON-schema types, a float
    marked as such in its description, nested properties and items converted one level as BFCL does."""
    for value in properties.values():
        if "type" not in value:
            value["type"] = "string"
        else:
            var_type = value["type"]
            if var_type == "float":
                value["format"] = "float"
                value["description"] = value.get("description", "") + " This is a float type value."
            value["type"] = _OPENAPI.get(var_type, "string")
        if value["type"] in ("array", "object"):
            if "properties" in value:
                value["properties"] = _cast(value["properties"])
            elif "items" in value:
                items = value["items"]
                items["type"] = _OPENAPI[items["type"]]
                if items["type"] == "array" and "items" in items:
                    items["items"]["type"] = _OPENAPI[items["items"]["type"]]
                elif items["type"] == "object" and "properties" in items:
                    items["properties"] = _cast(items["properties"])
    return properties


def openai_tools(functions: Sequence[dict[str, Any]], hint: str = "") -> list[dict[str, Any]]:
    """BFCL's function documents as the OpenAI ``tools`` field, converted as BFCL's ``convert_to_tool``
    converts them for OpenAI chat completions (names, types, the float note); ``hint`` is appended to
    each description first (BFCL's language hint). The documents themselves are left as they were."""
    out = []
    for fn in json.loads(json.dumps(list(functions))):  # a copy, several times faster than deepcopy
        fn["description"] = fn.get("description", "") + hint
        fn["name"] = tool_name(fn["name"])
        fn["parameters"]["type"] = "object"
        fn["parameters"]["properties"] = _cast(fn["parameters"].get("properties", {}))
        out.append({"type": "function", "function": fn})
    return out


# ----------------------------------------------------------------------------------------- judging
def _decode(calls: Sequence[MadeCall]) -> list[dict[str, Any]]:
    """A native reply as BFCL's handler decodes it: ``[{name: json.loads(arguments)}]``; no call at all
    is a reply of text, which does not decode."""
    if not calls:
        raise _Fail("ast_decoder:decoder_failed", "no function call in the reply")
    decoded = []
    for call in calls:
        try:
            decoded.append({call.name: json.loads(call.arguments)})
        except (ValueError, RecursionError) as exc:
            raise _Fail(
                "ast_decoder:decoder_failed", f"arguments of {call.name!r} are not JSON: {exc}"
            ) from None
    return decoded


def _call_format(decoded: list[dict[str, Any]]) -> bool:
    """BFCL's ``is_function_calling_format_output``: every call ``{name: {param: value}}``."""
    return all(
        isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), dict)
        for item in decoded
    )


def _empty(decoded: list[dict[str, Any]]) -> bool:
    """BFCL's ``is_empty_output``: [], [{}] and anything not in call format hold no call."""
    if not _call_format(decoded) or not decoded:
        return True
    return len(decoded) == 1 and len(decoded[0]) == 0


def _standard(text: str) -> str:
    return re.sub(r"[ \,\.\/\-\_\*\^]", "", text).lower().replace("'", '"')


def _answer_type(possible: list[Any]) -> type | None:
    for answer in possible:
        if answer != "":  # "" marks an optional parameter
            return type(answer)
    return None


def _type_check(
    param: str, value: Any, possible: list[Any], described: str, expected: type, nested: type | None
) -> bool:
    """BFCL's ``type_checker``; returns whether the value is a "variable" (of the answers' type), raises
    for a wrong type. One level of nesting is checked, as BFCL checks it."""
    answer_type = _answer_type(possible)
    is_variable = answer_type is not None and answer_type != expected
    elements: Any = value  # a list when the nested check runs
    if type(value) is expected:  # BFCL compares types exactly (a bool is no int)
        if nested is None:
            return is_variable
        for item in possible:
            if type(item) is list:
                try:
                    for element in elements:
                        _type_check(param, element, item, str(nested), nested, None)
                except _Fail:
                    continue
            return is_variable
        # BFCL then falls through with its result already invalid: no answer type rescues it
        raise _Fail("type_error:nested", f"nested type check failed for parameter {param!r}")
    if answer_type is not None and type(value) is answer_type:
        return True
    raise _Fail(
        "type_error:simple",
        f"incorrect type for parameter {param!r}: expected {described}, got {type(value).__name__} "
        f"({value!r:.80})",
    )


def _string(param: str, value: str, possible: list[Any]) -> None:
    if _standard(value) not in [_standard(a) for a in possible if type(a) is str]:
        raise _Fail(
            "value_error:string",
            f"invalid value for {param!r}: {value!r:.80}; expected one of {possible!r:.200}",
        )


def _list(param: str, value: list[Any], possible: list[Any]) -> None:
    got = [_standard(v) if type(v) is str else v for v in value]
    allowed = [[_standard(x) if type(x) is str else x for x in answer] for answer in possible]
    if got not in allowed:
        raise _Fail("value_error:list/tuple", f"invalid value for {param!r}: {value!r:.80}")


def _dict(param: str, value: dict[str, Any], possible: list[Any]) -> None:
    """BFCL's ``dict_checker``: one of the possible dicts must hold every key's value (standardized
    strings), and every key it does not mark optional."""
    for answer in possible:
        if answer == "":
            continue
        ok = True
        for key, v in value.items():
            if key not in answer:
                ok = False
                break
            got = _standard(v) if type(v) is str else v
            allowed = [_standard(a) if type(a) is str else a for a in answer[key]]
            if got not in allowed:
                ok = False
                break
        if ok and all(key in value or "" in allowed for key, allowed in answer.items()):
            return
    raise _Fail("value_error:dict", f"invalid value for {param!r}: {value!r:.80}")


def _list_of_dicts(param: str, value: list[Any], possible: list[Any]) -> None:
    for answer in possible:
        if len(value) != len(answer):
            continue
        try:
            for got, want in zip(value, answer, strict=True):
                _dict(param, got, [want])
        except _Fail:
            continue
        return
    raise _Fail("value_error:list_dict", f"invalid value for {param!r}: {value!r:.80}")


def _one(function: dict[str, Any], call: dict[str, Any], expected: dict[str, Any]) -> None:
    """BFCL's ``simple_function_checker`` (Python): one decoded call against one expected call."""
    possible: dict[str, list[Any]] = next(iter(expected.values()))
    name = tool_name(function["name"])
    details = function["parameters"]["properties"]
    if name not in call:
        raise _Fail("simple_function_checker:wrong_func_name", f"function {name!r} not called")
    params = call[name]
    for required in function["parameters"]["required"]:
        if required not in params:
            raise _Fail(
                "simple_function_checker:missing_required", f"missing required parameter {required!r}"
            )
    for param, value in params.items():
        if param not in details or param not in possible:
            raise _Fail("simple_function_checker:unexpected_param", f"unexpected parameter {param!r}")
        described = details[param]["type"]
        expected_type = _TYPES[described]
        nested = _TYPES[details[param]["items"]["type"]] if described in _NESTED else None
        if described == "float" and type(value) is int:  # Python's int-to-float promotion
            value = float(value)
        if not _type_check(param, value, possible[param], described, expected_type, nested):
            if expected_type is dict:
                _dict(param, value, possible[param])
                continue
            if expected_type is list and nested is dict:
                _list_of_dicts(param, value, possible[param])
                continue
            if expected_type is str:
                _string(param, value, possible[param])
                continue
            if expected_type is list:
                _list(param, value, possible[param])
                continue
        if value not in possible[param]:
            raise _Fail("value_error:others", f"invalid value for {param!r}: {value!r:.80}")
    for param, allowed in possible.items():
        if param not in params and "" not in allowed:
            raise _Fail("simple_function_checker:missing_optional", f"parameter {param!r} not given")


def _find(functions: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    for fn in functions:
        if fn["name"] == name:
            return fn
    raise _Fail("checker:unknown_function", f"no function document for {name!r}")


def _parallel(
    functions: Sequence[dict[str, Any]], decoded: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> None:
    """BFCL's ``parallel_function_checker_no_order``: each expected call, in order, takes the first
    not-yet-matched model call that passes."""
    if len(decoded) != len(expected):
        raise _Fail(
            "parallel_function_checker_no_order:wrong_count",
            f"{len(decoded)} calls, expected {len(expected)}",
        )
    matched: set[int] = set()
    for i, want in enumerate(expected):
        function = _find(functions, next(iter(want)))
        for index, call in enumerate(decoded):
            if index in matched:
                continue
            try:
                _one(function, call, want)
            except _Fail:
                continue
            matched.add(index)
            break
        else:
            raise _Fail(
                "parallel_function_checker_no_order:cannot_find_match", f"no call matches expected call {i}"
            )


def judge_calls(
    category: str,
    functions: Sequence[dict[str, Any]],
    possible_answers: Sequence[dict[str, Any]],
    calls: Sequence[MadeCall],
) -> tuple[bool, str]:
    """BFCL's verdict on the calls of one reply, and why (``error_type: message`` when invalid)."""
    rule = rule_for(category)
    if rule in ("irrelevance", "relevance"):
        try:
            contains_call = not _empty(_decode(calls))
        except _Fail:
            contains_call = False
        ok = contains_call == (rule == "relevance")
        return ok, ("a call, as expected" if contains_call else "no call, as expected") if ok else (
            "irrelevance_error: a function was called" if contains_call else "relevance_error: no call"
        )
    try:
        decoded = _decode(calls)
        if not _call_format(decoded):
            raise _Fail("ast_decoder:decoder_wrong_output_format", "arguments are not a JSON object")
        expected = list(possible_answers)
        if rule == "parallel":
            _parallel(functions, decoded, expected)
        elif rule == "multiple":
            if len(decoded) != len(expected):
                raise _Fail(
                    "multiple_function_checker:wrong_count", f"{len(decoded)} calls, expected {len(expected)}"
                )
            _one(_find(functions, next(iter(expected[0]))), decoded[0], expected[0])
        else:
            if len(decoded) != 1:
                raise _Fail("simple_function_checker:wrong_count", f"{len(decoded)} calls, expected 1")
            _one(functions[0], decoded[0], expected[0])
    except _Fail as exc:
        return False, str(exc)[:300]
    except (KeyError, TypeError, AttributeError, IndexError, StopIteration) as exc:
        # where BFCL's checker itself crashes (a value of a shape it never expects): not a pass
        return False, f"checker: {type(exc).__name__}: {exc}"[:300]
    return True, "calls match the possible answers"
