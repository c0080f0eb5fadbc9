"""Fuzzing the loaders: whatever a user (or a crash) puts in a file, infercost answers with its own error.

Arbitrary bytes, arbitrary TOML documents (generated as data, serialized to TOML text) and suite- or
profile-shaped documents with wild values go into ``load_suite`` and ``load_device``; arbitrary lines and
manifests go into ``read_bundle``. The only acceptable outcomes are a loaded object or a ``BenchError``
whose message is one non-empty line; anything else (a ``TypeError``, ``OverflowError``, ``RecursionError``
...) would reach the user as a traceback and fails the test.

In CI the examples are derandomized (the same modest set every run, so a red build means a change broke
something); set ``FUZZ_EXAMPLES=5000`` to search with fresh random examples.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.devices.profiles import load_device
from bench.errors import BenchError
from bench.results.bundle import read_bundle
from bench.suite.loader import load_suite
from tests.helpers.records import manifest, record

_EXAMPLES_ENV = os.environ.get("FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(_EXAMPLES_ENV or 120),
    derandomize=_EXAMPLES_ENV is None,
    deadline=dt.timedelta(seconds=10),  # the 2-core CI machine is slow and shared; hangs hit pytest-timeout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    database=None,
)
WORK = Path(tempfile.mkdtemp(prefix="infercost-fuzz-"))


# ------------------------------------------------------------------------------- TOML generation
def _toml_str(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_str(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(doc: dict[str, Any]) -> str:
    """A document as TOML text: top-level keys on their own lines, tables and arrays inline (TOML 1.0)."""
    return "".join(f"{_toml_str(k)} = {_toml_value(v)}\n" for k, v in doc.items())


def test_toml_writer_round_trips() -> None:
    import tomllib

    doc = {
        'a\n"b': "x\\y\x00\x7f",
        "n": [1, 2.5, True, {"k": dt.date(2026, 11, 26)}],
        "t": {"in": [[]], "f": float("inf")},
    }
    assert tomllib.loads(to_toml(doc)) == doc


scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=24),
    st.dates(),
    st.datetimes(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)
documents = st.dictionaries(st.text(max_size=12), values, max_size=6)

regexish = st.text(alphabet=list("()[]{}*+?.|^$\\aZ0123456789,-:<>=!P#"), max_size=24)
pythonish = st.text(alphabet=list("assert x=1()[]{}+-*/<>!\n\t\\'\"\x00:.,lambda"), max_size=60)
schemas = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "$schema": st.one_of(values, st.sampled_from(["https://json-schema.org/draft/2020-12/schema"])),
            "type": st.one_of(st.sampled_from(["object", "string", "number", "array", "foo"]), values),
            "pattern": regexish,
            "minimum": values,
            "enum": values,
            "required": values,
            "format": st.sampled_from(["regex", "date", "email", "nope"]),
            "$ref": st.text(max_size=12),
            "patternProperties": st.dictionaries(regexish, st.just({}), max_size=2),
        },
    ),
    lambda inner: st.fixed_dictionaries(
        {}, optional={"properties": st.dictionaries(st.text(max_size=6), inner, max_size=3), "items": inner}
    ),
    max_leaves=6,
)
checks = st.fixed_dictionaries(
    {
        "type": st.one_of(
            st.sampled_from(["exact", "contains", "regex", "number", "json", "python-test", "none"]), values
        )
    },
    optional={
        "value": values,
        "values": st.one_of(st.lists(st.text(max_size=8), max_size=3), values),
        "pattern": st.one_of(regexish, values),
        "schema": st.one_of(schemas, values),
        "asserts": st.one_of(pythonish, values),
        "tolerance": values,
        "rel_tolerance": values,
        "pick": st.one_of(st.sampled_from(["last", "first", "any"]), values),
        "mode": st.one_of(st.sampled_from(["all", "any"]), values),
        "timeout_s": values,
        "memory_mb": values,
        "ignore_case": values,
        "fullmatch": values,
        "case_sensitive": values,
    },
)
tasks = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.from_regex(r"\A[a-z][a-z0-9-]{0,6}\Z"), values),
        "category": st.one_of(st.text(max_size=8), values),
        "messages": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {"role": st.one_of(st.sampled_from(["system", "user", "assistant"]), values)},
                    optional={"content": st.one_of(st.text(max_size=8), values)},
                ),
                max_size=3,
            ),
            values,
        ),
        "prompt": st.one_of(st.text(max_size=12), values),
        "shape": st.one_of(
            st.fixed_dictionaries({}, optional={"prompt_tokens": values, "gen_tokens": values}), values
        ),
        "max_tokens": values,
        "temperature": values,
        "seed": values,
        "check": st.one_of(checks, values),
        "reference": values,
        "extra": values,
    },
)
suites = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=8), values),
        "version": values,
        "description": values,
        "tasks": st.one_of(st.lists(tasks, max_size=4), values),
        "unknown": values,
    },
)
devices = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=8), values),
        "kind": st.one_of(st.sampled_from(["local", "cloud"]), values),
        "backend": st.one_of(st.sampled_from(["llama_cpp", "openai_http"]), values),
        "price_usd": values,
        "lifetime_years": values,
        "utilization": values,
        "idle_w": values,
        "wall_factor": values,
        "kwh_usd": values,
        "base_url": values,
        "model": values,
        "as_of": values,
        "llama_cpp": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={"n_gpu_layers": values, "n_threads": values, "n_ctx": values, "flash_attn": values},
            ),
            values,
        ),
        "unknown": values,
    },
)


# ------------------------------------------------------------------------------------- harness
_counter = iter(range(10**9))


def write(name: str, data: bytes | str) -> Path:
    path = WORK / f"{next(_counter)}-{name}"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def only_own_errors(load: Callable[[], object]) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load()
    except BenchError as exc:
        message = str(exc)
        assert message.strip(), "an error without a message"
        assert "\n" not in message.strip(), f"a multi-line error message: {message!r}"


# ------------------------------------------------------------------------------------- suites
@FUZZ
@given(st.binary(max_size=400))
def test_suite_loader_on_arbitrary_bytes(data: bytes) -> None:
    only_own_errors(lambda: load_suite(write("s.toml", data)))
    only_own_errors(lambda: load_suite(write("s.jsonl", data)))


@FUZZ
@given(documents)
def test_suite_loader_on_arbitrary_toml(doc: dict[str, Any]) -> None:
    only_own_errors(lambda: load_suite(write("s.toml", to_toml(doc))))


@FUZZ
@given(suites)
@example({"tasks": [{"id": "a", "prompt": "p", "check": {"type": "regex", "pattern": "a{4294967296}"}}]})
@example(
    {"tasks": [{"id": "a", "prompt": "p", "check": {"type": "regex", "pattern": "(" * 1000 + ")" * 1000}}]}
)
@example({"tasks": [{"id": "a", "prompt": "p", "check": {"type": "json", "schema": {"$schema": []}}}]})
@example({"tasks": [{"id": "a", "prompt": "p", "check": {"type": "json", "schema": {"$schema": 5}}}]})
@example(
    {
        "tasks": [
            {"id": "a", "prompt": "p", "check": {"type": "python-test", "asserts": "x=" + "-" * 100000 + "1"}}
        ]
    }
)
@example({"tasks": [{"id": "a", "prompt": "p", "check": {"type": "python-test", "asserts": "assert 1\x00"}}]})
@example({"tasks": [{"id": "a\nb", "prompt": "p", "check": {"type": "none"}}], "bad\nkey": 1})
def test_suite_loader_on_suite_shaped_toml(doc: dict[str, Any]) -> None:
    only_own_errors(lambda: load_suite(write("s.toml", to_toml(doc))))


@FUZZ
@given(
    st.lists(
        st.one_of(
            suites.map(lambda s: json.dumps(s.get("tasks") or s, default=str)),
            st.text(max_size=40),
        ),
        max_size=5,
    )
)
def test_suite_loader_on_jsonl_lines(lines: list[str]) -> None:
    only_own_errors(lambda: load_suite(write("s.jsonl", "\n".join(lines))))


def test_deeply_nested_suites_are_refused_cleanly() -> None:
    only_own_errors(lambda: load_suite(write("deep.toml", "x = " + "[" * 5000 + "]" * 5000 + "\n")))
    only_own_errors(lambda: load_suite(write("deep.jsonl", "[" * 100000 + "]" * 100000 + "\n")))


# ------------------------------------------------------------------------------------ profiles
@FUZZ
@given(st.binary(max_size=400))
def test_profile_loader_on_arbitrary_bytes(data: bytes) -> None:
    only_own_errors(lambda: load_device(str(write("d.toml", data))))


@FUZZ
@given(st.one_of(documents, devices))
def test_profile_loader_on_arbitrary_toml(doc: dict[str, Any]) -> None:
    only_own_errors(lambda: load_device(str(write("d.toml", to_toml(doc)))))


# -------------------------------------------------------------------------------------- bundles
def _bundle(records_text: bytes, manifest_text: str | None = None) -> Path:
    d = WORK / f"b{next(_counter)}"
    d.mkdir()
    (d / "manifest.json").write_text(manifest_text or manifest().model_dump_json())
    (d / "records.jsonl").write_bytes(records_text)
    return d


good_line = st.builds(lambda i: record(i).model_dump_json(), st.integers(0, 100))
mutated_line = st.builds(
    lambda i, key, v: json.dumps({**json.loads(record(i).model_dump_json()), key: v}, default=str),
    st.integers(0, 5),
    st.sampled_from(
        ["status", "repetition", "warmup", "start_ns", "itl_ms", "task_id", "ttft_ms", "energy_source"]
    ),
    values,
)
any_line = st.one_of(
    good_line,
    mutated_line,
    st.text(max_size=60),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    st.builds(lambda n: "[" * n + "]" * n, st.integers(1, 50_000)),
    st.builds(lambda d: json.dumps(d, default=str), documents),
)


@FUZZ
@given(st.lists(any_line, max_size=6), st.booleans())
def test_bundle_reader_on_arbitrary_lines(lines: list[str], final_newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if final_newline else "")
    only_own_errors(lambda: read_bundle(_bundle(text.encode("utf-8", "surrogatepass"))))


@FUZZ
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_bundle_reader_on_arbitrary_bytes(chunks: list[bytes]) -> None:
    only_own_errors(lambda: read_bundle(_bundle(b"\n".join(chunks))))


@FUZZ
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(lambda d: json.dumps(d, default=str), documents),
        st.builds(
            lambda key, v: json.dumps({**json.loads(manifest().model_dump_json()), key: v}, default=str),
            st.sampled_from(
                ["schema_version", "run_id", "complete", "host", "settings", "resumes", "hygiene"]
            ),
            values,
        ),
    )
)
def test_bundle_reader_on_arbitrary_manifests(text: str) -> None:
    only_own_errors(lambda: read_bundle(_bundle(b"", text)))


def test_a_torn_last_line_is_still_just_a_warning() -> None:
    good = record(1).model_dump_json()
    path = _bundle((good + "\n" + good[:40]).encode())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(read_bundle(path).records) == 1
    assert any("torn last line" in str(w.message) for w in caught)
