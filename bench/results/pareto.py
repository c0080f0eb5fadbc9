"""The Pareto front: which settings are not beaten on every axis at once by another.

A sweep answers "which settings win", and with two objectives (dollars per success and p95 latency, or
joules per task and p95 latency) there is rarely one winner: a cell is *dominated* when another cell is
at least as good on every objective and strictly better on one. The front is what is left; everything
else is a setting no one should choose for these objectives (vLLM's and AIPerf's Pareto plots read the
same way). All objectives are minimised; a point with a missing or non-finite value is never on the
front (it was not measured, so it cannot be recommended) and never dominates another.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["dominates", "pareto_mask"]


def _usable(point: Sequence[float | None]) -> bool:
    return all(v is not None and math.isfinite(v) for v in point)


def dominates(a: Sequence[float | None], b: Sequence[float | None]) -> bool:
    """True when ``a`` is no worse than ``b`` on every objective and better on at least one."""
    if len(a) != len(b):
        raise ValueError(f"points have {len(a)} and {len(b)} objectives")
    if not (_usable(a) and _usable(b)):
        return False
    pairs = [(float(x), float(y)) for x, y in zip(a, b, strict=True)]  # type: ignore[arg-type]
    return all(x <= y for x, y in pairs) and any(x < y for x, y in pairs)


def pareto_mask(points: Sequence[Sequence[float | None]]) -> list[bool]:
    """For each point, whether it is on the front (O(n^2): sweeps have tens of cells, not millions).
    Equal points are both on the front: neither beats the other."""
    return [_usable(p) and not any(dominates(q, p) for q in points) for p in points]
