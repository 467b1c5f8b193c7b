"""Calibration scores and tests computed from ``CalibrationStats`` alone (O(bins)).

Every function raises ``ValueError`` when the statistics hold no outcomes. Counts are read as
weights, so exponentially forgotten statistics work the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from analytics_engine.calibration_stats import STAT_FIELDS, CalibrationStats, require_outcomes
from analytics_engine.intervals import wilson_bounds


def _two_sided_p(z: float) -> float:
    """``2 · P(N(0, 1) > |z|)``."""
    return math.erfc(abs(z) / math.sqrt(2.0))


@dataclass(frozen=True)
class BrierDecomposition:
    """Brier score and its exact decomposition into bin terms.

    ``brier = reliability - resolution + uncertainty + within_bin_variance
    - within_bin_covariance`` (Stephenson, Coelho & Jolliffe 2008, eq. 9, extending Murphy
    1973), to rounding error. With ``n_k`` outcomes in bin ``k``, bin means ``p̄_k``, ``ȳ_k``
    and overall mean ``ȳ``:

    - ``brier``: mean of ``(p - y)²`` (the exact running sum ``sum_sq_err / n``).
    - ``reliability``: ``Σ n_k (p̄_k - ȳ_k)² / n`` (Murphy's REL; 0 is perfect).
    - ``resolution``: ``Σ n_k (ȳ_k - ȳ)² / n`` (Murphy's RES; larger is better).
    - ``uncertainty``: ``mean(y²) - ȳ²``, the variance of the outcomes, i.e. the Brier score
      of always forecasting ``ȳ``; ``ȳ(1 - ȳ)`` for 0/1 outcomes. Using ``mean(y²)`` keeps
      the identity exact for fractional (ordinal) outcomes too.
    - ``within_bin_variance``: ``Σ_k Σ_{i∈k} (p_i - p̄_k)² / n`` (WBV).
    - ``within_bin_covariance``: ``2 Σ_k Σ_{i∈k} (p_i - p̄_k)(y_i - ȳ_k) / n`` (WBC).
    - ``binned_brier``: ``reliability - resolution + uncertainty``, the Brier score of the
      binned forecast (every ``p`` replaced by its bin mean ``p̄_k``).
    """

    brier: float
    reliability: float
    resolution: float
    uncertainty: float
    within_bin_variance: float
    within_bin_covariance: float
    binned_brier: float
    n: float


def brier_decomposition(stats: CalibrationStats) -> BrierDecomposition:
    """Brier score with its Murphy (1973) / Stephenson et al. (2008) decomposition.

    >>> s = CalibrationStats.from_arrays([0.9, 0.9, 0.2, 0.3], [1.0, 0.0, 0.0, 1.0], n_bins=10)
    >>> d = brier_decomposition(s)
    >>> round(d.brier, 4)  # (0.01 + 0.81 + 0.04 + 0.49) / 4
    0.3375
    >>> total = (d.reliability - d.resolution + d.uncertainty
    ...          + d.within_bin_variance - d.within_bin_covariance)
    >>> abs(total - d.brier) < 1e-12
    True
    """
    n = require_outcomes(stats)
    c = stats.count
    nz = c > 0
    cn = c[nz]
    sp, sp2, sy, sy2, spy = (stats.field(f)[nz] for f in STAT_FIELDS[1:6])
    pbar = sp / cn
    ybar_k = sy / cn
    ybar = float(sy.sum()) / n
    reliability = float(np.sum(cn * (pbar - ybar_k) ** 2)) / n
    resolution = float(np.sum(cn * (ybar_k - ybar) ** 2)) / n
    uncertainty = float(sy2.sum()) / n - ybar * ybar
    wbv = float(np.sum(sp2 - sp * pbar)) / n
    wbc = 2.0 * float(np.sum(spy - sp * ybar_k)) / n
    return BrierDecomposition(
        brier=float(stats.sum_sq_err.sum()) / n,
        reliability=reliability,
        resolution=resolution,
        uncertainty=uncertainty,
        within_bin_variance=wbv,
        within_bin_covariance=wbc,
        binned_brier=reliability - resolution + uncertainty,
        n=n,
    )


def log_loss(stats: CalibrationStats) -> float:
    """Mean log loss ``-(y log p_c + (1 - y) log(1 - p_c))``, ``p_c = clip(p, 1e-15, 1 - 1e-15)``
    (Good 1952), from the exact running sum.

    >>> round(log_loss(CalibrationStats.from_arrays([0.8, 0.4], [1.0, 0.0])), 6)
    0.366985
    """
    n = require_outcomes(stats)
    return float(stats.sum_log_loss.sum()) / n


@dataclass(frozen=True)
class CalibrationErrors:
    """Plug-in binned calibration errors, for display (biased upwards for small bins).

    - ``ece``: expected calibration error ``Σ n_k |p̄_k - ȳ_k| / n`` (Naeini et al. 2015).
    - ``mce``: maximum calibration error ``max_k |p̄_k - ȳ_k|`` over non-empty bins.
    - ``rmsce``: ``sqrt(Σ n_k (p̄_k - ȳ_k)² / n)``, the square root of Murphy's reliability.
    """

    ece: float
    mce: float
    rmsce: float
    n: float
    n_nonempty_bins: int


def calibration_errors(stats: CalibrationStats) -> CalibrationErrors:
    """ECE, MCE and RMS calibration error on the fixed bins of ``stats``.

    >>> e = calibration_errors(CalibrationStats.from_arrays([0.9, 0.9, 0.2], [1.0, 0.0, 0.0]))
    >>> round(e.ece, 4), round(e.mce, 4)
    (0.3333, 0.4)
    """
    n = require_outcomes(stats)
    c = stats.count
    nz = c > 0
    gap = np.abs(stats.sum_p[nz] - stats.sum_y[nz]) / c[nz]
    return CalibrationErrors(
        ece=float(np.sum(c[nz] * gap)) / n,
        mce=float(gap.max()),
        rmsce=math.sqrt(float(np.sum(c[nz] * gap * gap)) / n),
        n=n,
        n_nonempty_bins=int(nz.sum()),
    )


def _grouped_table(
    stats: CalibrationStats, n: float, max_groups: int, min_group_count: float
) -> NDArray[np.float64]:
    """The ``STAT_FIELDS`` sums of ``equal_mass_bins``' groups, one column per group."""
    if isinstance(max_groups, bool) or not isinstance(max_groups, int) or max_groups < 1:
        raise ValueError(f"max_groups must be a positive integer, got {max_groups!r}")
    if not min_group_count > 0:
        raise ValueError(f"min_group_count must be positive, got {min_group_count!r}")
    c = stats.count
    nz = c > 0
    used = int(np.count_nonzero(nz))
    g = max(1, min(max_groups, used, int(n // min_group_count)))
    mid = np.cumsum(c) - c / 2.0
    group = np.minimum((mid * g / n).astype(np.intp), g - 1)[nz]
    # ``mid`` rises from one non-empty bin to the next, so ``group`` never falls: the rank of
    # each bin's group among the groups used (np.unique's inverse) counts the steps up to it.
    labels = np.zeros(used, dtype=np.intp)
    np.cumsum(group[1:] != group[:-1], out=labels[1:])
    k = int(labels[-1]) + 1
    # One bincount over every statistic at once (row f's groups at f·k ... f·k + k - 1): each
    # group's sum still adds its bins one by one in bin order, as a bincount per row would.
    rows = np.arange(len(STAT_FIELDS), dtype=np.intp)[:, None] * k
    weights = np.stack([stats.field(f) for f in STAT_FIELDS])[:, nz]
    sums = np.bincount((labels + rows).ravel(), weights.ravel(), k * len(STAT_FIELDS))
    # with weights bincount gives float64 (numpy's stubs say intp): astype states it, no copy
    return sums.reshape(len(STAT_FIELDS), k).astype(np.float64, copy=False)


def equal_mass_bins(
    stats: CalibrationStats, *, max_groups: int = 10, min_group_count: float = 10.0
) -> CalibrationStats:
    """Merge adjacent fixed bins into about equal-count groups (Roelofs et al. 2022).

    The number of groups is ``min(max_groups, non-empty bins, floor(n / min_group_count))``
    (at least 1); bin ``k`` joins group ``floor(g · (cumulative count at its middle) / n)``.
    Bins are atomic, so groups are only as equal as the fixed bins allow. Returns statistics
    whose bins are the groups (in confidence order; they are not equal-width bins).

    >>> s = CalibrationStats.from_arrays([0.05] * 50 + [0.55] * 30 + [0.95] * 20, [0.0] * 100)
    >>> equal_mass_bins(s, max_groups=2).count.tolist()
    [50.0, 50.0]
    """
    n = require_outcomes(stats)
    return CalibrationStats(_grouped_table(stats, n, max_groups, min_group_count))


@dataclass(frozen=True)
class DebiasedCalibrationError:
    """Debiased squared calibration error on equal-mass groups.

    - ``squared``: ``Σ_g (n_g / n) [(p̄_g - ȳ_g)² - s²_g / n_g]`` with ``s²_g`` the sample
      variance of ``y`` in group ``g`` (``ȳ_g (1 - ȳ_g) n_g / (n_g - 1)`` for 0/1 outcomes);
      groups with ``n_g <= 1`` add 0 (Kumar, Liang & Ma 2019, "Verified uncertainty
      calibration", sec. 5). Unbiased for the binned squared error, so it can be negative.
    - ``error``: ``sqrt(max(squared, 0))``, in probability units (the headline number).
    - ``plugin_squared``: the same sum without the bias correction.
    - ``n_groups``: groups used (``equal_mass_bins``).
    """

    squared: float
    error: float
    plugin_squared: float
    n_groups: int
    n: float


def debiased_calibration_error(
    stats: CalibrationStats, *, max_groups: int = 10, min_group_count: float = 10.0
) -> DebiasedCalibrationError:
    """Kumar et al. (2019) debiased squared calibration error on Roelofs et al. (2022)
    equal-mass groups.

    >>> s = CalibrationStats.from_arrays([0.8] * 10, [1.0] * 5 + [0.0] * 5)
    >>> d = debiased_calibration_error(s)
    >>> round(d.plugin_squared, 4), round(d.squared, 4)  # 0.3² and 0.09 - 0.25/9
    (0.09, 0.0622)
    """
    n = require_outcomes(stats)
    groups = _grouped_table(stats, n, max_groups, min_group_count)
    c, sum_p, sy, sum_y2 = groups[0], groups[1], groups[3], groups[4]
    gap2 = (sum_p / c - sy / c) ** 2
    big = c > 1.0
    # every group holds outcomes (c > 0); the variance needs c > 1, elsewhere it is 0
    var_mean = np.where(big, (sum_y2 - sy * sy / c) / np.where(big, c * (c - 1.0), 1.0), 0.0)
    var_mean = np.maximum(var_mean, 0.0)
    terms = np.where(big, gap2 - var_mean, 0.0)
    squared = float(np.sum(c * terms)) / n
    return DebiasedCalibrationError(
        squared=squared,
        error=math.sqrt(max(squared, 0.0)),
        plugin_squared=float(np.sum(c * gap2)) / n,
        n_groups=groups.shape[1],
        n=n,
    )


@dataclass(frozen=True)
class SpiegelhalterTest:
    """Spiegelhalter's (1986) Z test of calibration.

    ``z = Σ (y - p)(1 - 2p) / sqrt(Σ (1 - 2p)² p (1 - p))``, standard normal when the
    forecasts are calibrated. For 0/1 outcomes the numerator is ``Σ (y - p)² - Σ p (1 - p)``:
    ``z > 0`` means a Brier score worse than calibrated forecasts would get (typically
    forecasts too extreme), ``z < 0`` better (too timid). With fractional outcomes the test is
    conservative. ``z`` and ``p_value`` are NaN when the variance is 0 (every p in {0, ½, 1}).
    """

    z: float
    p_value: float
    n: float


def spiegelhalter_test(stats: CalibrationStats) -> SpiegelhalterTest:
    """Spiegelhalter's Z and its two-sided p-value, from the running sums.

    >>> t = spiegelhalter_test(CalibrationStats.from_arrays([0.9] * 10, [1.0] * 5 + [0.0] * 5))
    >>> round(t.z, 3)  # (5·0.72 − 5·0.08) / sqrt(10·0.64·0.09)
    4.216
    """
    n = require_outcomes(stats)
    num = float(stats.sum_spieg_num.sum())
    var = float(stats.sum_spieg_var.sum())
    if not var > 1e-300:
        return SpiegelhalterTest(z=math.nan, p_value=math.nan, n=n)
    z = num / math.sqrt(var)
    return SpiegelhalterTest(z=z, p_value=_two_sided_p(z), n=n)


@dataclass(frozen=True)
class ObservedExpected:
    """Calibration in the large: observed over expected successes.

    - ``observed`` ``Σy``, ``expected`` ``Σp``, ``ratio`` ``O/E`` (inf if E = 0 < O, NaN if
      both are 0).
    - ``lower``, ``upper``: ``(1 - alpha)`` interval of O/E, the Wilson interval of ``O/n``
      scaled by ``n/E`` (E taken as fixed, as in Debray et al. 2017, BMJ 356:i6460).
    - ``z``, ``p_value``: ``(O - E) / sqrt(Σ p (1 - p))`` (Hosmer & Lemeshow 2000, the
      calibration-in-the-large test under H0), two-sided; NaN when the variance is 0.
    - ``direction``: ``"overconfident"`` when O/E < 1 (confidence above the success rate),
      ``"underconfident"`` when O/E > 1, ``"none"`` when equal.
    """

    observed: float
    expected: float
    ratio: float
    lower: float
    upper: float
    z: float
    p_value: float
    direction: Literal["overconfident", "underconfident", "none"]
    n: float


def observed_expected(stats: CalibrationStats, *, alpha: float = 0.05) -> ObservedExpected:
    """O/E ratio with interval, z test and direction.

    >>> oe = observed_expected(CalibrationStats.from_arrays([0.8] * 10, [1.0] * 6 + [0.0] * 4))
    >>> round(oe.ratio, 3), oe.direction
    (0.75, 'overconfident')
    """
    n = require_outcomes(stats)
    o = float(stats.sum_y.sum())
    e = float(stats.sum_p.sum())
    var = e - float(stats.sum_p2.sum())  # Σ p(1 - p)
    _, low, high = wilson_bounds(min(o, n), n, alpha=alpha)
    if e > 0:
        ratio, lower, upper = o / e, low * n / e, high * n / e
    else:
        ratio, lower, upper = (math.inf if o > 0 else math.nan), math.nan, math.nan
    if var > 1e-300:
        z = (o - e) / math.sqrt(var)
        p_value = _two_sided_p(z)
    else:
        z = p_value = math.nan
    direction: Literal["overconfident", "underconfident", "none"] = (
        "overconfident" if o < e else "underconfident" if o > e else "none"
    )
    return ObservedExpected(o, e, ratio, lower, upper, z, p_value, direction, n)


@dataclass(frozen=True)
class HosmerLemeshow:
    """Hosmer–Lemeshow (1980) goodness-of-fit statistic, for reporting.

    ``statistic = Σ_g (O_g - E_g)² / (E_g (1 - E_g / n_g))`` over the equal-mass groups
    (deciles when the data allow), ``df = groups - 2``, ``p_value`` from chi-squared(df); NaN
    when fewer than 3 usable groups. Groups whose variance term is 0 are left out.
    """

    statistic: float
    df: int
    p_value: float
    n_groups: int
    n: float


def hosmer_lemeshow(stats: CalibrationStats, *, n_groups: int = 10) -> HosmerLemeshow:
    """Hosmer–Lemeshow C-hat on (up to) deciles of merged bins.

    >>> y = [0.0] * 9 + [1.0] + [0.0] * 5 + [1.0] * 5 + [1.0] * 9 + [0.0]
    >>> s = CalibrationStats.from_arrays([0.1] * 10 + [0.5] * 10 + [0.9] * 10, y)
    >>> hl = hosmer_lemeshow(s)
    >>> round(hl.statistic, 12), hl.df  # every group has O = E
    (0.0, 1)
    """
    n = require_outcomes(stats)
    groups = equal_mass_bins(stats, max_groups=n_groups)
    c, o, e = groups.count, groups.sum_y, groups.sum_p
    denom = e * (1.0 - e / c)
    ok = denom > 1e-12
    statistic = float(np.sum((o[ok] - e[ok]) ** 2 / denom[ok]))
    used = int(ok.sum())
    df = used - 2
    from scipy.special import chdtrc

    p_value = float(chdtrc(df, statistic)) if df >= 1 else math.nan
    return HosmerLemeshow(statistic, max(df, 0), p_value, used, n)
