"""Every check type, including hostile python-test answers that must fail within the timeout."""

from __future__ import annotations

import time

import pytest
from pydantic import TypeAdapter, ValidationError

from bench.suite.checks import Check, evaluate, extract_code, extract_json

CHECK = TypeAdapter(Check)


def check(**kw: object):  # type: ignore[no-untyped-def]
    return CHECK.validate_python(kw)


@pytest.mark.parametrize(
    ("spec", "answer", "passed"),
    [
        ({"type": "exact", "value": "yes"}, "Yes.", True),
        ({"type": "exact", "value": "yes"}, "Yes, it is.", False),
        ({"type": "exact", "value": "HELLO", "case_sensitive": True}, "hello", False),
        ({"type": "contains", "values": ["Paris"]}, "It is paris, of course", True),
        ({"type": "contains", "values": ["a", "zz"], "mode": "all"}, "abc", False),
        ({"type": "contains", "values": ["a", "zz"], "mode": "any"}, "abc", True),
        ({"type": "regex", "pattern": r"\bH2O\b", "ignore_case": False}, "water is H2O", True),
        ({"type": "regex", "pattern": r"^\w+,\w+$", "fullmatch": True}, " a,b ", True),
        ({"type": "number", "value": 56}, "8 x 7 = 56", True),
        ({"type": "number", "value": 56}, "56 is wrong, it is 54", False),
        ({"type": "number", "value": 56, "pick": "any"}, "56 is wrong, it is 54", True),
        ({"type": "number", "value": 1000}, "about 1,000 units", True),
        ({"type": "number", "value": 3.14, "tolerance": 0.01}, "pi is 3.1416", True),
        ({"type": "number", "value": 100, "rel_tolerance": 0.05}, "104", True),
        ({"type": "number", "value": 100, "rel_tolerance": 0.05}, "106", False),
        ({"type": "number", "value": 7}, "seven", False),
        ({"type": "none"}, "anything", None),
    ],
)
def test_simple_checks(spec: dict[str, object], answer: str, passed: bool | None) -> None:
    assert evaluate(check(**spec), answer).passed is passed


SCHEMA = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        ('{"n": 3}', True),
        ('Sure! ```json\n{"n": 3}\n``` done', True),
        ('Here: {"n": 3} and more text', True),
        ('{"n": "three"}', False),
        ("no json here", False),
        ('{"n": 3', False),
    ],
)
def test_json_check(answer: str, passed: bool) -> None:
    result = evaluate(check(type="json", schema=SCHEMA), answer)
    assert result.passed is passed, result.detail


def test_json_extraction_and_code_extraction() -> None:
    assert extract_json("x [1, 2] y") == [1, 2]
    with pytest.raises(ValueError):
        extract_json("nothing")
    assert extract_code("text\n```python\ndef f():\n    return 1\n```\nmore") == "def f():\n    return 1\n"
    assert extract_code("def g(): pass") == "def g(): pass"


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "regex", "pattern": "("},
        {"type": "json", "schema": {"type": "nonsense"}},
        {"type": "python-test", "asserts": "assert f(1) ==="},
        {"type": "python-test", "asserts": "   "},
        {"type": "contains", "values": [""]},
        {"type": "bogus"},
    ],
)
def test_invalid_check_definitions_are_rejected(spec: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        check(**spec)


ADD = {"type": "python-test", "asserts": "assert add(2, 3) == 5\n", "timeout_s": 3}


def test_python_test_passes_and_fails() -> None:
    assert evaluate(check(**ADD), "```python\ndef add(a, b):\n    return a + b\n```").passed is True
    wrong = evaluate(check(**ADD), "def add(a, b):\n    return a - b\n")
    assert wrong.passed is False and "AssertionError" in wrong.detail
    broken = evaluate(check(**ADD), "def add(a, b) return")
    assert broken.passed is False and "SyntaxError" in broken.detail


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("def add(a, b):\n    while True: pass\nadd(1, 2)\n", "timed out"),
        ("import os\nos.system('sleep 30')\ndef add(a, b): return a + b\n", "timed out"),
        ("print('x' * 10**6)\ndef add(a, b): return a - b\n", "output truncated at 65536 bytes"),
        ("x = bytearray(2**34)\ndef add(a, b): return a + b\n", "MemoryError"),
    ],
)
def test_hostile_answers_fail_within_the_timeout(code: str, reason: str) -> None:
    t0 = time.monotonic()
    result = evaluate(check(**ADD), code)
    assert result.passed is False
    assert reason in result.detail, result.detail
    assert time.monotonic() - t0 < ADD["timeout_s"] + 3  # type: ignore[operator]


def test_python_test_child_runs_in_an_empty_temp_dir(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.txt").write_text("x")
    spec = {"type": "python-test", "asserts": "import os\nassert 'secret.txt' not in os.listdir('.')\n"}
    assert evaluate(check(**spec), "pass").passed is True


def test_json_check_with_unresolvable_ref_is_refused_at_load() -> None:
    # issue 12 item 9: it used to pass load-time validation and then fail every answer
    for ref in ("https://example.invalid/nowhere.json", "#/$defs/missing", "#/definitions/x"):
        with pytest.raises(ValueError, match="cannot be resolved"):
            check(type="json", schema={"$ref": ref})
    ok = check(type="json", schema={"$defs": {"n": {"type": "array"}}, "$ref": "#/$defs/n"})
    assert evaluate(ok, "[1]").passed is True and evaluate(ok, "{}").passed is False
