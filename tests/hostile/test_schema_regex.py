"""Regexes from suites are bounded everywhere: a regex check, and a JSON schema's ``pattern`` and
``patternProperties`` (which jsonschema matches with ``re``, in-process, with no deadline of its own)."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import TypeAdapter

from bench.sandbox import bounded_call
from bench.suite.checks import REGEX_TIMEOUT_S, Check, evaluate

CHECK: TypeAdapter[Check] = TypeAdapter(Check)
EVIL = "a" * 34 + "!"


def _timed(check: dict[str, object], answer: str) -> tuple[bool | None, str, float]:
    t0 = time.monotonic()
    result = evaluate(CHECK.validate_python(check), answer)
    return result.passed, result.detail, time.monotonic() - t0


@pytest.mark.parametrize(
    "schema,answer",
    [
        ({"type": "array", "items": {"type": "string", "pattern": "^(a+)+$"}}, json.dumps([EVIL])),
        (
            {"type": "object", "properties": {"k": {"type": "string", "pattern": "^(a|aa)*$"}}},
            json.dumps({"k": EVIL}),
        ),
        ({"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}}}, json.dumps({EVIL: 1})),
        (
            {"type": "object", "patternProperties": {"^(\\w+\\s?)*$": {}}, "additionalProperties": False},
            json.dumps({"word " * 12 + "!": 1}),
        ),
        ({"type": "array", "items": {"type": "string", "pattern": "(x+x+)+y"}}, json.dumps(["x" * 40] * 3)),
        ({"propertyNames": {"pattern": "^(a+)+$"}}, json.dumps({EVIL: 0})),
    ],
)
def test_schema_patterns_stop_at_the_deadline(schema: dict[str, object], answer: str) -> None:
    passed, detail, took = _timed({"type": "json", "schema": schema}, answer)
    assert passed is False and "timed out" in detail, detail
    assert took < REGEX_TIMEOUT_S + 2.0


def test_a_deeply_nested_answer_is_a_failed_check_not_a_crash() -> None:
    passed, detail, took = _timed({"type": "json", "schema": {"type": "array"}}, "[" * 200_000)
    assert passed is False and took < REGEX_TIMEOUT_S + 2.0, detail


def test_schema_checks_still_judge() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string", "pattern": "^[A-Z][a-z]+$"}},
              "patternProperties": {"^n_": {"type": "integer"}}, "required": ["city"]}  # fmt: skip
    assert _timed({"type": "json", "schema": schema}, '{"city": "Paris", "n_x": 3}')[0] is True
    passed, detail, _ = _timed({"type": "json", "schema": schema}, '{"city": "paris"}')
    assert passed is False and "city" in detail
    passed, detail, _ = _timed({"type": "json", "schema": schema}, '{"city": "Paris", "n_x": "three"}')
    assert passed is False and "n_x" in detail
    assert _timed({"type": "json", "schema": schema}, "no json here")[1].startswith("no JSON")


@pytest.mark.parametrize("pattern", ["^(a+)+$", "(a|a)*$", "^(a|aa)+$"])
def test_regex_checks_stop_at_the_deadline(pattern: str) -> None:
    passed, detail, took = _timed({"type": "regex", "pattern": pattern, "fullmatch": True}, EVIL)
    assert passed is False and "timed out" in detail and took < REGEX_TIMEOUT_S + 2.0


def test_bounded_call_returns_empty_when_the_child_fails() -> None:
    def boom() -> bytes:
        raise RuntimeError("x")

    assert bounded_call(boom, 1.0) == b""
    assert bounded_call(lambda: b"ok" * 100_000, 1.0) == (b"ok" * 100_000)[:65536]
