"""When to retry a failed HTTP attempt, and how long to wait first.

- 429 (rate limited): wait what ``Retry-After`` (seconds or an HTTP date; ``retry-after-ms`` where sent)
  asks, plus up to 10% jitter so concurrent clients do not return in lockstep; without the header, back
  off as below. A wait that would overrun the request's retry budget ends the request instead.
- 5xx, connection refused/reset, a response cut before its first byte: exponential backoff with full
  jitter (AWS's "full jitter": uniform in [0, min(cap, base·2ⁿ)]), which spreads retries best.
- Nothing else is retried: 401/403 stop the run (the key is wrong for every request), other 4xx are the
  request's own fault, and a stream that already delivered tokens is never replayed (its tokens would
  be counted twice); it ends as an error record holding what arrived.

Every failed attempt becomes a ``FailedAttempt`` in the record's ``retries`` list.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bench.devices.http_settings import HttpSettings

__all__ = ["RETRYABLE_STATUS", "FailedAttempt", "RetryBudget", "parse_retry_after"]

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """One attempt that failed and what the client did about it (JSON-able via ``as_dict``)."""

    attempt: int  # 1 for the first try
    reason: str  # e.g. "http 429", "connect", "reset before first byte"
    status: int | None  # HTTP status where there was one
    elapsed_ms: float  # this attempt's dispatch → its failure
    wait_ms: float  # sleep before the next attempt (0 when the request gave up)
    retry_after_s: float | None = None  # what the server asked for, when it asked

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_retry_after(headers: Mapping[str, str], now_s: float | None = None) -> float | None:
    """Seconds the server asks us to wait, or None when it does not say (or says nonsense)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1e3
            return value if value >= 0 else None
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now_s is None else now_s
    return max(0.0, when.timestamp() - now)


class RetryBudget:
    """The retry allowance of one request: attempts left and waiting time left."""

    def __init__(self, settings: HttpSettings, rng: random.Random) -> None:
        self.settings = settings
        self.rng = rng
        self.retries = 0
        self.waited_s = 0.0

    def wait_for(self, retry_after_s: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None when the budget is spent."""
        s = self.settings
        if self.retries >= s.max_retries:
            return None
        if retry_after_s is not None:
            wait = retry_after_s * (1.0 + 0.1 * self.rng.random())
        else:
            wait = self.rng.uniform(0.0, min(s.backoff_max_s, s.backoff_base_s * 2**self.retries))
        if self.waited_s + wait > s.max_retry_wait_s:
            return None
        self.retries += 1
        self.waited_s += wait
        return wait
