"""Checks on shapes at a depth and in parallel, before any model loads (docs/shapes.md).

A depth or parallel shape that cannot run should cost the user a second, not a model load and a bundle:
``check_shapes`` is called by ``prepare_run`` and by ``new_sweep`` (for every device and context size of
the grid), so ``infercost run`` and a sweep cell refuse the same suite with the same one-line
``UsageError`` (exit 2) naming the suite file, the task, the field and the fix.

Why HTTP is refused rather than recorded as failed requests: over HTTP the depth cannot be placed in the
server's KV cache *untimed* (the server would prefill it inside the timed request, or its prompt cache
would decide), and parallel sequences are what ``--concurrency`` already measures through a server. A
run whose every depth request failed would be a bundle of errors that answers nothing.
"""

from __future__ import annotations

from pathlib import Path

from bench.devices.profiles import DeviceProfile
from bench.errors import UsageError
from bench.suite.loader import PromptSuite

__all__ = ["MAX_PARALLEL", "check_shapes", "sequences_needed"]

# llama.cpp's LLAMA_MAX_SEQ: a context cannot hold more sequences than this
MAX_PARALLEL = 256


def sequences_needed(suite: PromptSuite) -> int:
    """The most sequences any task decodes at once: the context's ``n_seq_max`` (1 for plain suites)."""
    return max((t.shape.n_seqs for t in suite.tasks if t.shape is not None), default=1)


def check_shapes(
    suite: PromptSuite, suite_path: Path | str, device: DeviceProfile, concurrency: int = 1
) -> None:
    """Raise ``UsageError`` for the first depth or parallel shape that cannot run on ``device`` (at
    ``concurrency`` streams: these shapes drive the whole context themselves, so they run one at a time)."""
    for task in suite.tasks:
        shape = task.shape
        if shape is None or not shape.needs_engine:
            continue
        where = f"{suite_path}: task '{task.id}'"
        field = "shape.depth_tokens" if shape.is_depth else "shape.parallel"
        if concurrency > 1:
            raise UsageError(
                f"{where}: {field} uses the whole llama.cpp context (its own KV layout and sequences), so "
                f"it cannot share it with the streams of --concurrency {concurrency}",
                fix="run this suite without --concurrency (a parallel shape is llama-batched-bench's "
                "concurrency), or drop the task",
            )
        if device.backend != "llama_cpp":
            raise UsageError(
                f"{where}: {field} runs in-process only, and device '{device.name}' is reached over HTTP "
                f"({device.backend}): a server cannot hold the depth in its KV cache untimed",
                fix='run this suite on an in-process device (backend = "llama_cpp"), or drop the task; '
                "over HTTP, measure parallel streams with --concurrency",
            )
        if shape.n_seqs > MAX_PARALLEL:
            raise UsageError(
                f"{where}: shape.parallel = {shape.parallel} is more sequences than llama.cpp holds "
                f"in one context ({MAX_PARALLEL})",
                fix=f"give parallel between 1 and {MAX_PARALLEL}",
            )
        n_ctx = device.llama_cpp.n_ctx
        need = shape.context_tokens
        if need > n_ctx:
            if shape.is_parallel:
                parts = (
                    f"prompt {shape.prompt_tokens} + {shape.n_seqs} x gen {shape.gen_tokens}"
                    if shape.shared_prompt
                    else f"{shape.n_seqs} x (prompt {max(shape.prompt_tokens, 1)} + gen {shape.gen_tokens})"
                )
            else:
                parts = (
                    f"depth {shape.depth_tokens} + prompt {max(shape.prompt_tokens, 1)} "
                    f"+ gen {shape.gen_tokens}"
                )
            raise UsageError(
                f"{where}: {field} needs {need} tokens of context ({parts}) "
                f"but device '{device.name}' has n_ctx = {n_ctx}",
                fix=f"set n_ctx = {_round_up(need)} under [llama_cpp] in {_profile(device)}, "
                f"sweep --n-ctx {_round_up(need)}, or make the shape smaller",
            )


def _round_up(n: int) -> int:
    return -(-n // 256) * 256


def _profile(device: DeviceProfile) -> str:
    if device.origin and device.origin != "auto":
        return device.origin
    return "a device profile passed with --device"
