"""Statistics over raw samples: percentiles, mean and spread.

Everything here is computed at read time from the raw values stored in records, never stored in place of
them. Missing values (``None``/NaN: a request with one token has no decode rate) are dropped, never
treated as zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["clean", "mean", "percentile", "stdev"]


def clean(values: Iterable[float | None]) -> np.ndarray:
    """Finite floats only."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    finite: np.ndarray = arr[np.isfinite(arr)]
    return finite


def percentile(values: Iterable[float | None], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default, as pandas and most tools report)."""
    arr = clean(values)
    return float(np.percentile(arr, q)) if arr.size else None


def mean(values: Iterable[float | None]) -> float | None:
    arr = clean(values)
    return float(arr.mean()) if arr.size else None


def stdev(values: Iterable[float | None]) -> float | None:
    """Sample standard deviation (ddof=1); None below two samples."""
    arr = clean(values)
    if arr.size < 2:
        return None
    value = float(arr.std(ddof=1))
    return value if math.isfinite(value) else None
