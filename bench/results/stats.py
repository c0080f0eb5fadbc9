"""Statistics over raw samples: percentiles, intervals, significance, variability and outliers.

Everything here is computed at read time from the raw values stored in records, never stored in place of
them. Missing values (``None``/NaN: a request with one token has no decode rate) are dropped, never
treated as zero. Used by the run summary, reports, ``compare`` and the CI gate, so every "how sure are
we" answer in infercost comes from this one module.

- Means get seeded 95% bootstrap confidence intervals (BCa, scipy; Student-t above ``BOOTSTRAP_MAX_N``
  samples, where they agree and the bootstrap gets slow), so a table never shows a mean without
  saying how well it is known; pass rates get Wilson score intervals (well-behaved at 0% and 100%).
  Plain bootstrap intervals are too narrow for small samples (about 17% narrower than Student's t at
  n = 10, covering ~89% instead of 95%): they use the plug-in standard deviation and normal quantiles.
  ``bootstrap_ci`` therefore uses Hesterberg's *expanded* interval (the confidence level is raised so that
  on normal data the interval has the t-interval's width), and ``mean_ci`` uses Student's t below
  ``MIN_BOOTSTRAP_SAMPLES``, where a bootstrap distribution is too coarse to trust (5 values have only
  126 distinct resamples and the interval can never leave the range of the data).
- Two runs are compared with Mann–Whitney U on the raw samples *and* a minimum effect size, as asv does:
  a difference is called only when it is both significant and larger than the threshold.
- Drift over a run (a device heating up and throttling) is a least-squares time trend with covariates
  and a one-sided t-test on its slope (``linear_trend``).
- Outliers use the modified z-score (Iglewicz & Hoaglin: 0.6745·(x − median)/MAD > 3.5), which a single
  wild value cannot mask the way it masks a mean/sd rule.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BOOTSTRAP_MAX_N",
    "Comparison",
    "Trend",
    "bootstrap_ci",
    "clean",
    "coefficient_of_variation",
    "compare_samples",
    "expanded_confidence",
    "linear_trend",
    "mean",
    "mean_ci",
    "modified_z_outliers",
    "percentile",
    "stdev",
    "t_interval",
    "wilson_interval",
]

DEFAULT_SEED = 20261126
# Above this many samples the bootstrap interval of a mean is replaced by the Student-t one: the two agree
# to well under 1% there (central limit theorem), while BCa's jackknife costs O(n²) and the resample matrix
# O(n × resamples) memory (5,000 samples: 1.7 s; 25,000: tens of seconds and ~400 MB).
BOOTSTRAP_MAX_N = 2000
MIN_SAMPLES_FOR_SIGNIFICANCE = 3
MIN_BOOTSTRAP_SAMPLES = 10


@functools.cache
def _sps() -> Any:  # scipy ships no type stubs
    """scipy.stats, imported on first use: it costs ~0.6 s, and most commands (``--help``, ``run``
    before its summary, ``db``) never test anything."""
    from scipy import stats

    return stats


def clean(values: Iterable[float | None]) -> np.ndarray:
    """Finite floats only (None becomes NaN in the float conversion, then goes with the NaNs)."""
    seq = values if isinstance(values, list | np.ndarray) else list(values)
    arr = np.asarray(seq, dtype=float)
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


def coefficient_of_variation(values: Iterable[float | None]) -> float | None:
    """sd / |mean| (a fraction); None below two samples or for a zero mean."""
    arr = clean(values)
    if arr.size < 2 or arr.mean() == 0:
        return None
    return float(arr.std(ddof=1) / abs(arr.mean()))


def expanded_confidence(n: int, confidence: float = 0.95) -> float:
    """The confidence level at which a bootstrap interval of a mean has the t-interval's width.

    Hesterberg (2015), "What teachers should know about the bootstrap", §5: a percentile interval behaves
    like mean ± z·s_plugin/√n, narrower than mean ± t·s/√n by √((n−1)/n)·z/t. Asking the bootstrap for
    the level whose normal quantile is √(n/(n−1))·t_{n−1} undoes both factors.
    """
    if n < 2:
        raise ValueError(f"need at least 2 samples, got {n}")
    t = float(_sps().t.ppf((1 + confidence) / 2, n - 1))
    return 1 - 2 * float(_sps().norm.sf(math.sqrt(n / (n - 1)) * t))


def bootstrap_ci(
    values: Iterable[float | None],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = DEFAULT_SEED,
    statistic: Callable[..., Any] = np.mean,
    expand: bool = True,
) -> tuple[float, float] | None:
    """Seeded bootstrap confidence interval of ``statistic`` (BCa; percentile if BCa is degenerate).

    ``expand`` (default) widens the interval to the level of ``expanded_confidence``, so small samples
    are not reported as better known than they are. None below two samples: one value says nothing about
    its own uncertainty. For the mean of more than ``BOOTSTRAP_MAX_N`` samples, the analytic Student-t
    interval (see ``BOOTSTRAP_MAX_N``).
    """
    arr = clean(values)
    if arr.size < 2:
        return None
    if np.all(arr == arr[0]):
        return float(arr[0]), float(arr[0])
    if arr.size > BOOTSTRAP_MAX_N and statistic is np.mean:
        return t_interval(arr, confidence)
    level = expanded_confidence(int(arr.size), confidence) if expand else confidence
    for method in ("BCa", "percentile"):
        try:
            with warnings.catch_warnings():
                # scipy warns (DegenerateDataWarning) where BCa is undefined; we fall back instead.
                warnings.simplefilter("ignore")
                res = _sps().bootstrap(
                    (arr,),
                    statistic,
                    confidence_level=level,
                    n_resamples=n_resamples,
                    method=method,
                    random_state=np.random.default_rng(seed),
                    vectorized=True,
                    axis=-1,
                )
        except (ValueError, FloatingPointError):
            continue
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return low, high
    return None


def mean_ci(values: Iterable[float | None], confidence: float = 0.95) -> tuple[float, float] | None:
    """The interval the summary shows for a mean: expanded bootstrap, Student's t for small samples.

    Below ``MIN_BOOTSTRAP_SAMPLES`` the t-interval is used: the bootstrap cannot be wider than the data's
    range and under-covers badly there (about 90% for a nominal 95% at n = 5).
    """
    arr = clean(values)
    if arr.size < MIN_BOOTSTRAP_SAMPLES:
        return t_interval(arr, confidence)
    return bootstrap_ci(arr, confidence=confidence)


def t_interval(values: Iterable[float | None], confidence: float = 0.95) -> tuple[float, float] | None:
    """The analytic Student-t interval of the mean (what the bootstrap is checked against)."""
    arr = clean(values)
    if arr.size < 2:
        return None
    m, se = float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(arr.size))
    h = float(_sps().t.ppf((1 + confidence) / 2, arr.size - 1)) * se
    return m - h, m + h


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion; sensible at 0/n and n/n where the normal one collapses."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n ({n}), got {successes}")
    z = float(_sps().norm.ppf((1 + confidence) / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def modified_z_outliers(values: Sequence[float | None], threshold: float = 3.5) -> list[int]:
    """Indices (into ``values``) whose modified z-score exceeds ``threshold``."""
    idx = [i for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    arr = np.asarray([values[i] for i in idx], dtype=float)
    if arr.size < 3:
        return []
    med = float(np.median(arr))
    mad = float(np.median(np.abs(arr - med)))
    if mad == 0:
        mad_mean = float(np.mean(np.abs(arr - med)))
        if mad_mean == 0:
            return []
        scores = (arr - med) / (1.253314 * mad_mean)
    else:
        scores = 0.6745 * (arr - med) / mad
    return [idx[i] for i, s in enumerate(scores) if abs(s) > threshold]


@dataclass(frozen=True)
class Comparison:
    """B (candidate) against A (baseline) for one metric."""

    baseline_mean: float | None
    candidate_mean: float | None
    ratio: float | None  # candidate / baseline
    change: float | None  # ratio − 1, signed
    p_value: float | None
    significant: bool
    beyond_threshold: bool
    better: bool | None  # None when the metric has no direction or nothing changed meaningfully
    n_baseline: int
    n_candidate: int
    verdict: str

    @property
    def regression(self) -> bool:
        return self.significant and self.beyond_threshold and self.better is False

    @property
    def improvement(self) -> bool:
        return self.significant and self.beyond_threshold and self.better is True


def compare_samples(
    baseline: Iterable[float | None],
    candidate: Iterable[float | None],
    *,
    higher_is_better: bool | None,
    min_effect: float = 0.05,
    alpha: float = 0.05,
    words: tuple[str, str] = ("faster", "slower"),
) -> Comparison:
    """Mann–Whitney U on the raw samples plus a minimum relative effect (asv's rule).

    ``words`` name the good and bad direction ("faster"/"slower", "cheaper"/"costlier"); the verdict reads
    like pyperf's: "1.31x faster (significant)", "1.02x slower (not significant)".
    """
    a, b = clean(baseline), clean(candidate)
    ma = float(a.mean()) if a.size else None
    mb = float(b.mean()) if b.size else None
    if ma is None or mb is None:
        return Comparison(
            ma, mb, None, None, None, False, False, None, a.size, b.size, "no samples to compare"
        )
    ratio = mb / ma if ma != 0 else (math.inf if mb != 0 else 1.0)
    change = ratio - 1 if math.isfinite(ratio) else math.inf
    beyond = abs(change) >= min_effect
    if a.size < MIN_SAMPLES_FOR_SIGNIFICANCE or b.size < MIN_SAMPLES_FOR_SIGNIFICANCE:
        p, significant = None, False
        note = f"fewer than {MIN_SAMPLES_FOR_SIGNIFICANCE} samples, significance not tested"
    elif np.all(a == a[0]) and np.all(b == b[0]):
        p, significant = (0.0 if a[0] != b[0] else 1.0), bool(a[0] != b[0])
        note = "significant" if significant else "not significant"
    else:
        p = float(_sps().mannwhitneyu(a, b, alternative="two-sided").pvalue)
        significant = p < alpha
        note = "significant" if significant else "not significant"
    better = None if higher_is_better is None or ratio == 1 else (ratio > 1) == higher_is_better
    if ratio == 1:
        verdict = f"no change ({note})"
    else:
        good, bad = words
        factor = ratio if ratio >= 1 else (1 / ratio if ratio > 0 else math.inf)
        word = (good if better else bad) if better is not None else ("higher" if ratio > 1 else "lower")
        verdict = f"{factor:.2f}x {word} ({note})"
        if significant and not beyond:
            verdict += f", below the {min_effect:.0%} threshold"
    return Comparison(
        ma, mb, ratio, change, p, significant, beyond, better, int(a.size), int(b.size), verdict
    )


@dataclass(frozen=True)
class Trend:
    """The least-squares slope of ``y`` against ``x`` with the other covariates held fixed."""

    slope: float
    stderr: float
    p_increasing: float  # one-sided p-value of "slope > 0"
    p_decreasing: float  # one-sided p-value of "slope < 0"
    n: int


def linear_trend(
    y: Sequence[float], x: Sequence[float], covariates: Sequence[Sequence[float]] = ()
) -> Trend | None:
    """OLS of ``y`` on ``[1, x, *covariates]``: the slope of ``x``, its standard error and t-test.

    A covariate is what ``y`` legitimately depends on besides ``x`` (e.g. context length for a decode
    rate across tasks run in suite order): without it, a suite that puts its long tasks last would look
    like a device slowing down. Rows with a non-finite value are dropped and constant covariates ignored.
    None when ``x`` cannot be told apart from the covariates (constant or collinear) or when there are
    too few rows for a residual degree of freedom.
    """
    columns = [np.asarray(y, dtype=float), np.asarray(x, dtype=float)]
    columns += [np.asarray(c, dtype=float) for c in covariates]
    if len({c.shape for c in columns}) != 1 or columns[0].ndim != 1:
        raise ValueError("y, x and every covariate must be 1-D and of the same length")
    keep = np.all([np.isfinite(c) for c in columns], axis=0)
    yv, xv, *cov = (c[keep] for c in columns)
    cov = [c for c in cov if c.size and np.ptp(c) > 0]
    n = int(yv.size)
    design = np.column_stack([np.ones(n), xv, *cov]) if n else np.empty((0, 2 + len(cov)))
    k = design.shape[1]
    if n <= k or np.ptp(xv) == 0 or np.linalg.matrix_rank(design) < k:
        return None
    beta, *_ = np.linalg.lstsq(design, yv, rcond=None)
    resid = yv - design @ beta
    dof = n - k
    sigma2 = float(resid @ resid) / dof
    cov_beta = sigma2 * np.linalg.pinv(design.T @ design)
    slope, se = float(beta[1]), math.sqrt(max(float(cov_beta[1, 1]), 0.0))
    if se == 0.0:
        p_up = 0.0 if slope > 0 else 1.0
        p_down = 0.0 if slope < 0 else 1.0
    else:
        t = slope / se
        p_up, p_down = float(_sps().t.sf(t, dof)), float(_sps().t.cdf(t, dof))
    return Trend(slope=slope, stderr=se, p_increasing=p_up, p_decreasing=p_down, n=n)
