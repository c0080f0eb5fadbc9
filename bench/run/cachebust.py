"""Cache busting: a unique, deterministic prefix per request, so no server can reuse a cached prompt.

Servers keep the KV cache of earlier prompts and skip the shared prefix (llama-cpp-python's server
reuses the previous request's prefix; llama-server, vLLM and hosted APIs cache prefixes too). A repeated
prompt then shows a near-zero TTFT that no new user would see: measured against ``python -m
llama_cpp.server``, every measured request repeated its warmup's prompt and TTFT fell to a tenth of the
fresh figure (docs/http.md). So busting is the default for HTTP endpoints (``--warm-cache`` turns it off,
to measure a warm cache on purpose; in-process runs need none, their engine clears its KV cache before
every request). Busted, every request's first message (or raw prompt) starts with ``[nonce] ``, where
the nonce is a hash of (run seed, task id, request index) and the index is the request's slot within its
task, warmups first (``slot_index``). An agent task is busted once per attempt (its steps share the
attempt's prefix: reusing it is the workload), a replayed trace once per replayed attempt.

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
import re
from typing import Any

from bench.suite.loader import Message, Task

__all__ = ["bust_messages", "bust_prefix", "bust_task", "slot_index"]


def _digest(seed: int, task_id: str, index: int) -> str:
    return hashlib.sha256(f"{seed}:{task_id}:{index}".encode()).hexdigest()


_PREFIX = re.compile(r"\[[0-9a-f]{8}\] ")


def bust_prefix(seed: int, task_id: str, index: int) -> str:
    return f"[{_digest(seed, task_id, index)[:8]}] "


def slot_index(warmups: int, repetition: int, warmup: bool) -> int:
    """A request's number within its task, warmups first: the index its nonce is drawn with. Taken
    from the slot, not counted as requests go, so a resumed run never reuses a nonce it already sent."""
    return repetition if warmup else warmups + repetition


def bust_messages(messages: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """OpenAI-shaped messages (a trace step) with ``prefix`` at the start of the first one. A prefix an
    earlier cache-busted run left there is replaced, not stacked, so a replay sends as many tokens as
    the run it replays."""
    if not messages or not isinstance(messages[0].get("content"), str):
        return messages
    content: str = messages[0]["content"]
    earlier = _PREFIX.match(content)
    return [{**messages[0], "content": prefix + content[earlier.end() if earlier else 0 :]}, *messages[1:]]


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
