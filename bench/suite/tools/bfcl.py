"""BFCL's executable back-ends as agent tools, and BFCL's multi-turn check.

The multi-turn categories of the Berkeley Function Calling Leaderboard (``bfcl-eval``, Apache-2.0) come
with Python classes that *are* the tools (a file system, a math API, a trading bot, a ticketing system,
a vehicle, messaging, travel: ``bfcl_eval/eval_checker/multi_turn_eval/func_source_code/``). A task
gets one instance of each of its ``involved_classes``, loaded from its ``initial_config`` as BFCL loads
them, and the model's calls are run on them for real.

Execution follows ``multi_turn_utils.execute_multi_turn_func_call``, without its ``eval`` of a call
string: a call runs only when its name is a public method of an involved class (the last class that
has it, as BFCL's name table resolves it); anything else is the error BFCL's ``eval`` would produce
(``name 'x' is not defined``), never Python's builtins. A result is the method's return value as BFCL
turns it into text (a string as is, a dict as JSON, anything else ``str()``); an exception is
``Error during execution: ...``.

Bounded like the other tools (``bench.sandbox.bounded_call``, the fork harden's regex checks use): each
call of a task runs in a forked child with a deadline (``CALL_TIMEOUT_S``) and a memory cap
(``CALL_MEMORY_MB`` over what the harness holds), so ``power(10, 10**9)`` cannot stall or bloat the run;
the child hands back the result and the instances' new state (pickled: plain data), which the task's
instances take; a call stopped at a bound changes nothing. The model sees at most ``MAX_OUTPUT_BYTES``
of a result. The check replays a whole task in one such child.

The check (``judge_multi_turn``) is ``multi_turn_checker.multi_turn_checker``: the model's decodable
calls, turn by turn, run on fresh instances beside the ground truth's calls; after every turn with
ground truth, the model's turn must not be empty, each instance's public state must equal the ground
truth's, and every ground-truth result must be among the model's results so far (as a multiset, any
order). A task whose turns the loop did not all reach fails, as a force-terminated entry fails in BFCL.
``tests/suite/test_bfcl_agreement.py`` runs the authors' checker beside it.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib
import inspect
import json
import pickle
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any

from bench.sandbox import bounded_call, limit_memory
from bench.suite.tool_calls import MadeCall
from bench.suite.tools.registry import ToolResult, cap_output

__all__ = [
    "CALL_MEMORY_MB",
    "CALL_TIMEOUT_S",
    "BfclInstances",
    "BfclToolbox",
    "decoded_step",
    "judge_multi_turn",
    "multi_turn_verdict",
]

CALL_TIMEOUT_S = 5.0  # one call of a BFCL class; they are dictionary look-ups, a runaway one is a bug
CALL_MEMORY_MB = 512  # address space a call (or a task's replay) may add to the harness's
STATE_BYTES = 64 * 2**20  # the instances' state a call's child may hand back
JUDGE_TIMEOUT_S = 120.0  # a whole task's replay, model and ground truth
_BACKENDS = "bfcl_eval.constants.executable_backend_config"
_REFUSED = ("kill", "exit", "quit", "remove", "unlink", "popen", "Popen", "run")  # BFCL's own list


class _CallTimeout(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise ``_CallTimeout`` inside the call after ``seconds`` (main thread only: signals go there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise _CallTimeout(f"stopped at its {seconds:g} s deadline")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _as_text(result: Any) -> str:
    """A return value as BFCL hands it on (``execute_multi_turn_func_call``)."""
    if type(result) is str:
        return result
    if type(result) is dict:
        try:
            return json.dumps(result)
        except (TypeError, ValueError):
            return str(result)
    return str(result)


class BfclInstances:
    """One instance of each involved class, loaded from the task's initial configuration."""

    def __init__(
        self, involved_classes: Sequence[str], initial_config: dict[str, Any], long_context: bool
    ) -> None:
        backends = importlib.import_module(_BACKENDS)
        self.instances: dict[str, Any] = {}
        self.methods: dict[str, Any] = {}
        for class_name in involved_classes:
            module = importlib.import_module(backends.CLASS_FILE_PATH_MAPPING[class_name])
            instance = getattr(module, class_name)()
            if class_name not in backends.STATELESS_CLASSES:
                scenario = copy.deepcopy(initial_config.get(class_name, {}))
                instance._load_scenario(scenario, long_context=long_context)
            self.instances[class_name] = instance
            for name, method in inspect.getmembers(instance, predicate=inspect.ismethod):
                if not name.startswith("_"):
                    self.methods[name] = method  # a later class's method of the same name wins, as in BFCL

    def call(self, name: str, args: Sequence[Any], kwargs: dict[str, Any], timeout_s: float) -> str:
        """Run one call; every failure is BFCL's ``Error during execution: ...`` text."""
        try:
            if name in _REFUSED:
                raise PermissionError(f"Function call {name} is not allowed.")
            method = self.methods.get(name)
            if method is None:
                raise NameError(f"name '{name}' is not defined")
            with _deadline(timeout_s):
                return _as_text(method(*args, **kwargs))
        except Exception as exc:
            return f"Error during execution: {exc}"

    def call_bounded(self, name: str, kwargs: dict[str, Any], timeout_s: float) -> tuple[str, bool]:
        """``call`` in a forked child under the deadline and the memory cap; the instances take the
        state it leaves. Returns the result text and whether a bound stopped the call."""

        def child() -> bytes:
            limit_memory(CALL_MEMORY_MB)
            text = self.call(name, (), kwargs, timeout_s)
            return pickle.dumps((text, {c: vars(i) for c, i in self.instances.items()}))

        raw = bounded_call(child, timeout_s + 1.0, max_bytes=STATE_BYTES)
        if raw is None:
            return f"Error during execution: {name} stopped at its {timeout_s:g} s deadline", True
        try:
            text, states = pickle.loads(raw)
        except Exception:  # an empty answer: the child died (its memory cap), or its state was too big
            return f"Error during execution: {name} was stopped by its limits ({CALL_MEMORY_MB} MB)", True
        for class_name, state in states.items():
            vars(self.instances[class_name]).clear()
            vars(self.instances[class_name]).update(state)
        return str(text), False

    def state(self, class_name: str) -> dict[str, Any]:
        """The public attributes BFCL's state check compares (``_compare_instances``)."""
        return {k: v for k, v in vars(self.instances[class_name]).items() if not k.startswith("_")}


class BfclToolbox:
    """A task's BFCL classes as its agent tools: ``declarations`` go to the model, ``run`` runs a call."""

    def __init__(
        self,
        declarations: list[dict[str, Any]],
        involved_classes: Sequence[str],
        initial_config: dict[str, Any],
        long_context: bool = False,
        timeout_s: float = CALL_TIMEOUT_S,
    ) -> None:
        self.declarations = declarations
        self.timeout_s = timeout_s
        self.instances = BfclInstances(involved_classes, initial_config, long_context)

    def run(self, name: str, arguments: Any) -> ToolResult:
        t0 = time.perf_counter_ns()
        if not isinstance(arguments, dict):
            content, error = "Error during execution: arguments must be a JSON object", True
        else:
            content, _stopped = self.instances.call_bounded(name, arguments, self.timeout_s)
            error = content.startswith("Error during execution:")
        text, truncated, n_bytes = cap_output(content)
        return ToolResult(
            name, text, error, time.perf_counter_ns() - t0, output_bytes=n_bytes, truncated=truncated
        )

    def close(self) -> None:
        self.instances.instances.clear()
        self.instances.methods.clear()


# -------------------------------------------------------------------------------------------- check
def decoded_step(step: Sequence[MadeCall]) -> list[tuple[str, dict[str, Any]]] | None:
    """A reply's calls as BFCL's ``decode_execute`` takes them: None when it does not decode (a call's
    arguments are not a JSON object) or holds no call; BFCL skips such a reply, and in the loop it ends
    the turn."""
    out = []
    for call in step:
        try:
            args = json.loads(call.arguments)
        except (ValueError, RecursionError):
            return None
        if not isinstance(args, dict):
            return None
        out.append((call.name, args))
    return out or None


def _ground_truth_call(text: str) -> tuple[str, list[Any], dict[str, Any]]:
    """``name(arg, key=value)`` with literal arguments, as BFCL's ground truth writes its calls."""
    node = ast.parse(text.strip(), mode="eval").body
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"not a call: {text!r}")
    args = [ast.literal_eval(a) for a in node.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
    return node.func.id, args, kwargs


def _multiset_missing(expected: list[str], got: list[str]) -> list[str]:
    pool = list(got)
    missing = []
    for item in expected:
        try:
            pool.remove(item)
        except ValueError:
            missing.append(item)
    return missing


def judge_multi_turn(
    ground_truth: Sequence[Sequence[str]],
    calls: Sequence[Sequence[Sequence[MadeCall]]],
    involved_classes: Sequence[str],
    initial_config: dict[str, Any],
    long_context: bool = False,
) -> tuple[bool, str]:
    """BFCL's multi-turn verdict on a task's calls (per turn, per reply), and why; the replay runs in
    one forked child under a deadline and a memory cap (``bench.sandbox.bounded_call``)."""

    def child() -> bytes:
        limit_memory(CALL_MEMORY_MB)
        return json.dumps(
            multi_turn_verdict(ground_truth, calls, involved_classes, initial_config, long_context)
        ).encode()

    raw = bounded_call(child, JUDGE_TIMEOUT_S)
    if raw is None:
        return False, f"multi_turn: the replay did not finish within {JUDGE_TIMEOUT_S:g} s"
    try:
        ok, detail = json.loads(raw)
    except ValueError:
        return False, f"multi_turn: the replay was stopped by its limits ({CALL_MEMORY_MB} MB)"
    return bool(ok), str(detail)


def multi_turn_verdict(
    ground_truth: Sequence[Sequence[str]],
    calls: Sequence[Sequence[Sequence[MadeCall]]],
    involved_classes: Sequence[str],
    initial_config: dict[str, Any],
    long_context: bool = False,
) -> tuple[bool, str]:
    """``multi_turn_checker.multi_turn_checker``, in-process (``judge_multi_turn`` runs it bounded; the
    agreement tests run it as is, thousands of times)."""
    if len(calls) != len(ground_truth):
        return False, f"multi_turn:force_terminated: {len(calls)} of {len(ground_truth)} turns were run"
    try:
        model = BfclInstances(involved_classes, initial_config, long_context)
        truth = BfclInstances(involved_classes, initial_config, long_context)
    except (ImportError, AttributeError, KeyError) as exc:
        return False, f"multi_turn: the task's classes could not be loaded: {exc}"[:300]
    model_results: list[str] = []
    for turn, (expected, steps) in enumerate(zip(ground_truth, calls, strict=True)):
        decoded = [d for d in (decoded_step(s) for s in steps) if d is not None]
        for step in decoded:
            model_results += [model.call(name, (), args, CALL_TIMEOUT_S) for name, args in step]
        truth_results = []
        for text in expected:
            name, args, kwargs = _ground_truth_call(text)
            truth_results.append(truth.call(name, args, kwargs, CALL_TIMEOUT_S))
        if not expected:
            continue
        if not decoded:
            return False, f"multi_turn:empty_turn_model_response: no call in turn {turn}"
        for class_name in truth.instances:
            mine = model.instances[class_name]
            differs = sorted(k for k, v in truth.state(class_name).items() if getattr(mine, k, None) != v)
            if differs:
                return False, (
                    f"multi_turn:instance_state_mismatch: {class_name} after turn {turn} differs in "
                    + ", ".join(differs)
                )[:300]
        missing = _multiset_missing(truth_results, model_results)
        if missing:
            return False, (
                f"multi_turn:execution_response_mismatch: turn {turn} lacks {len(missing)} ground-truth "
                f"result(s), e.g. {missing[0]!r}"
            )[:300]
    return True, f"state and results match the ground truth in all {len(ground_truth)} turns"
