"""Suite loading: validation, hashing, JSONL, and every bad-input case as a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import SuiteError
from bench.suite.loader import load_suite

GOOD = """
name = "t"
[[tasks]]
id = "a"
messages = [{ role = "user", content = "hi" }]
check = { type = "contains", values = ["hi"] }
"""


def write(tmp_path: Path, text: str | bytes, name: str = "s.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_shipped_suites_load() -> None:
    default = load_suite("default")
    assert len(default.tasks) >= 24
    assert len(default.categories) >= 6
    shapes = load_suite("shapes")
    assert shapes.is_shapes
    assert [t.shape.label for t in shapes.tasks if t.shape] == ["pp512", "tg128", "pp512+tg128"]


def test_hash_is_canonical_not_textual(tmp_path: Path) -> None:
    a = load_suite(write(tmp_path, GOOD))
    b = load_suite(
        write(tmp_path, "# a comment\n" + GOOD.replace('values = ["hi"]', 'values = [ "hi" ]'), "b.toml")
    )
    assert a.suite_hash == b.suite_hash
    c = load_suite(write(tmp_path, GOOD.replace('content = "hi"', 'content = "hello"'), "c.toml"))
    assert c.suite_hash != a.suite_hash
    d = load_suite(write(tmp_path, GOOD.replace('id = "a"', 'id = "a"\nmax_tokens = 99'), "d.toml"))
    assert d.suite_hash != a.suite_hash


def test_jsonl_suite_matches_toml(tmp_path: Path) -> None:
    toml = load_suite(write(tmp_path, GOOD))
    task = {
        "id": "a",
        "messages": [{"role": "user", "content": "hi"}],
        "check": {"type": "contains", "values": ["hi"]},
    }
    lines = [json.dumps({"suite": {"name": "t"}}), json.dumps(task)]
    jsonl = load_suite(write(tmp_path, "\n".join(lines) + "\n", "t.jsonl"))
    assert jsonl.suite_hash == toml.suite_hash


BAD = [
    ("syntax", 'name = "t"\n[[tasks]\nid = "a"', "TOML syntax error"),
    ("empty", "   \n", "empty suite file"),
    ("binary", b"\x00\x01\x02GGUF", "binary data"),
    ("no tasks", 'name = "t"\n', "no tasks"),
    (
        "unknown field",
        GOOD.replace('id = "a"', 'id = "a"\nmax_token = 5'),
        "unknown field 'max_token' (did you mean 'max_tokens'?)",
    ),
    ("duplicate id", GOOD + GOOD.split("\n", 2)[2], 'duplicate task id "a"'),
    (
        "no check",
        GOOD.replace('check = { type = "contains", values = ["hi"] }', ""),
        'tasks[0] (id "a").check: required field is missing',
    ),
    ("unknown check", GOOD.replace('type = "contains"', 'type = "fuzzy"'), "unknown type 'fuzzy'"),
    (
        "bad asserts",
        GOOD.replace(
            '{ type = "contains", values = ["hi"] }', '{ type = "python-test", asserts = "assert f(1) ==" }'
        ),
        "asserts do not compile",
    ),
    (
        "two inputs",
        GOOD.replace('id = "a"', 'id = "a"\nprompt = "x"'),
        "exactly one of messages, prompt or shape",
    ),
    (
        "bad regex",
        GOOD.replace('{ type = "contains", values = ["hi"] }', '{ type = "regex", pattern = "(" }'),
        "regex does not compile",
    ),
    (
        "shape with check",
        'name="t"\n[[tasks]]\nid="p"\nshape={prompt_tokens=8, gen_tokens=1}\ncheck={type="exact", value="x"}',
        'use check = { type = "none" }',
    ),
    ("bad id", GOOD.replace('id = "a"', 'id = "a b"'), "tasks[0]"),
]


@pytest.mark.parametrize(("label", "text", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_suites_give_one_line_errors(tmp_path: Path, label: str, text: str | bytes, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert needle in message, message
    assert str(path) in message
    assert "\n" not in message


def test_unknown_suite_name_lists_known() -> None:
    with pytest.raises(SuiteError, match=r"known: .*default"):
        load_suite("no-such-suite")


def test_missing_suite_file(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no such suite file"):
        load_suite(tmp_path / "nope.toml")


def test_bad_suite_through_the_cli_exits_2_without_traceback(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, GOOD.replace('type = "contains"', 'type = "fuzzy"'))
    proc = cli("run", "--suite", str(path), "--out", str(tmp_path / "runs"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(path) in proc.stderr and "fuzzy" in proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
