"""Validation of the cost and roofline flags (``--kwh-usd``, ``--hardware-usd``, ``--memory-bandwidth-gbs``,
``--tasks-per-month``), shared by ``run`` and the commands that re-price a bundle.

Zero is a real price (free electricity, a device already paid for); a bandwidth or a monthly volume of
zero is not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from bench.errors import UsageError

__all__ = ["check_cost_flags"]

_POSITIVE = {"memory_bandwidth_gbs", "tasks_per_month", "tasks_per_day"}


def check_cost_flags(values: Mapping[str, float | None]) -> None:
    """Raise a one-line ``UsageError`` naming the flag for the first value out of range."""
    for name, value in values.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if not math.isfinite(value):
            raise UsageError(f"{flag} {value}: must be a finite number")
        if name in _POSITIVE and value <= 0:
            raise UsageError(f"{flag} {value:g}: must be greater than 0")
        if value < 0:
            raise UsageError(f"{flag} {value:g}: a price cannot be negative (0 is allowed)")
