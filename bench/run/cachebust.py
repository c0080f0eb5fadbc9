"""``--cache-bust``: a unique, deterministic prefix per request, so no server can reuse a cached prompt.

Servers keep the KV cache of earlier prompts and skip the shared prefix (llama-cpp-python's server
reuses the previous request's prefix; llama-server, vLLM and hosted APIs cache prefixes too). A repeated
prompt then shows a near-zero TTFT that no new user would see. With ``--cache-bust`` every request's
first message (or raw prompt) starts with ``[nonce] ``, where the nonce is a hash of (run seed, task id,
request index) and the index counts the task's requests in order, warmups first.

The prefix is applied to the *task*, before any backend sees it, so the in-process backend given the
same seed gets byte-identical prompts: that is what lets the cross-check compare the two backends' texts
(``--seed`` fixes the run seed; without it a random seed is drawn and recorded, so a repeated run cannot
hit the previous run's cache either). Synthetic shapes get a request-specific seed instead of a prefix
(HTTP shapes are seeded text, in-process shapes seeded token ids).

What it cannot bust: a chat template's fixed header before the first message (SmolLM2 injects a default
system prompt of ~20 tokens there) stays shareable, as it is between any two users of a server.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from bench.backends.base import Backend, Generation, ProgressFn
from bench.suite.loader import Message, Task

__all__ = ["CacheBustingBackend", "bust_prefix", "bust_task"]


def _digest(seed: int, task_id: str, index: int) -> str:
    return hashlib.sha256(f"{seed}:{task_id}:{index}".encode()).hexdigest()


def bust_prefix(seed: int, task_id: str, index: int) -> str:
    return f"[{_digest(seed, task_id, index)[:8]}] "


def bust_task(task: Task, seed: int, index: int) -> Task:
    """The task as the ``index``-th request of the run with ``seed`` sends it."""
    if task.shape is not None:
        return task.model_copy(update={"seed": int(_digest(seed, task.id, index)[:7], 16)})
    prefix = bust_prefix(seed, task.id, index)
    if task.prompt is not None:
        return task.model_copy(update={"prompt": prefix + task.prompt})
    assert task.messages is not None
    first = task.messages[0]
    messages = [Message(role=first.role, content=prefix + first.content), *task.messages[1:]]
    return task.model_copy(update={"messages": messages})


class CacheBustingBackend:
    """Wraps a backend for sequential runs: the n-th request of a task gets the n-th prefix."""

    def __init__(self, inner: Backend, seed: int) -> None:
        self.inner = inner
        self.seed = seed
        self.name = inner.name
        self._counts: Counter[str] = Counter()

    def load(self) -> dict[str, Any]:
        return self.inner.load()

    def generate(self, task: Task, *, progress: ProgressFn | None = None) -> Generation:
        index = self._counts[task.id]
        self._counts[task.id] += 1
        return self.inner.generate(bust_task(task, self.seed, index), progress=progress)

    def close(self) -> None:
        self.inner.close()
