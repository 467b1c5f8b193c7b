"""Coaching patterns: feature values of actions whose success rate differs from the rest.

Each (feature, value) group is compared with all other actions; effects come with an interval, a
test, and Benjamini-Hochberg control of false discoveries across all candidates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analytics_engine.logistic import fit_logistic
from analytics_engine.roi import newcombe_difference_interval


class Measure(StrEnum):
    """What ``rate`` measures."""

    SUCCESS_RATE = "success_rate"  # binary outcomes: the share of successes
    MEAN_OUTCOME = "mean_outcome"  # graded outcomes normalised to [0, 1]: their mean


class EffectDirection(StrEnum):
    HIGHER = "higher"  # the group does better than the rest
    LOWER = "lower"
    NONE = "none"  # exactly the same (only listed with a permissive ``fdr``)


@dataclass(frozen=True)
class CoachingInsight:
    """One feature value whose outcome differs from the rest of the actions.

    ``rate``/``rest_rate`` are what ``measure`` says (success rates, or mean normalised outcome
    for ordinal outcomes), ``difference = rate - rest_rate`` (its sign is ``direction``) with its
    ``ci`` (lower, upper) at ``confidence_level``, ``lift = rate / rest_rate`` (NaN when
    ``rest_rate`` is 0), ``p_value`` from the test named in ``test``, ``q_value`` the
    Benjamini-Hochberg adjusted p-value across all candidates. ``adjusted_odds_ratio`` and
    ``adjusted_p_value`` come from a logistic model with the action type as covariate (None when
    not requested or not estimable). The engine returns numbers only; wording is the caller's.
    """

    feature: str
    value: str
    support: int
    rate: float
    rest_rate: float
    difference: float
    ci: tuple[float, float]
    lift: float
    p_value: float
    q_value: float
    test: str
    adjusted_odds_ratio: float | None
    adjusted_p_value: float | None
    direction: EffectDirection
    measure: Measure
    confidence_level: float


@dataclass(frozen=True)
class CoachingReport:
    """Ranked insights, with how many candidates were tested, on how many actions, at which FDR."""

    insights: tuple[CoachingInsight, ...]
    candidates_tested: int
    sample_size: int
    fdr: float


def benjamini_hochberg(p_values: ArrayLike) -> NDArray[np.float64]:
    """Benjamini-Hochberg (1995) adjusted p-values (q-values): ``min_{j>=i} p_(j) m / j``.

    Matches ``statsmodels`` ``multipletests(method="fdr_bh")[1]``.

    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.2]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be one-dimensional, got shape {p.shape}")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p_values has values outside [0, 1]")
    m = p.size
    order = np.argsort(p)
    scaled = p[order] / (np.arange(1, m + 1) / m)  # as statsmodels: exact q = p at rank m
    q_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    q = np.empty(m)
    q[order] = q_sorted
    return q


def _categorical(name: str, values: ArrayLike, n: int) -> tuple[NDArray[Any], NDArray[np.intp]]:
    array = np.asarray(values)
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(f"feature {name!r} must be one-dimensional of length {n}")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise ValueError(f"feature {name!r} contains NaN; bin missing values explicitly")
    if array.dtype.kind == "O":
        array = array.astype(str)
    return np.unique(array, return_inverse=True)


def _fisher_exact_p_value(table: NDArray[np.intp]) -> float:
    from scipy.stats import fisher_exact  # here, where needed: scipy.stats weighs about 50 MiB

    return float(fisher_exact(table).pvalue)


def _binary_p_values(
    x1: NDArray[np.float64],
    n1: NDArray[np.float64],
    x0: NDArray[np.float64],
    n0: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.str_]]:
    """Pooled two-proportion z-test; Fisher's exact test where an expected cell is below 5."""
    pooled = (x1 + x0) / (n1 + n0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (x1 / n1 - x0 / n0) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    from scipy.special import ndtr  # on first use: a server idles without scipy

    p = np.where(np.isnan(z), 1.0, 2 * ndtr(-np.abs(z)))  # scipy.stats.norm.sf
    expected = np.stack([n1 * pooled, n1 * (1 - pooled), n0 * pooled, n0 * (1 - pooled)])
    small = expected.min(axis=0) < 5
    for i in np.flatnonzero(small):  # loops over candidate groups, not samples
        table = np.array([[x1[i], n1[i] - x1[i]], [x0[i], n0[i] - x0[i]]]).round().astype(int)
        p[i] = _fisher_exact_p_value(table)
    return p, np.where(small, "fisher_exact", "two_proportion_z")


def _welch(
    s1: NDArray[np.float64],
    ss1: NDArray[np.float64],
    n1: NDArray[np.float64],
    s0: NDArray[np.float64],
    ss0: NDArray[np.float64],
    n0: NDArray[np.float64],
    alpha: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Welch's t-test and interval for a difference of means, from sums and sums of squares."""
    m1, m0 = s1 / n1, s0 / n0
    v1 = np.maximum(ss1 - n1 * m1**2, 0.0) / (n1 - 1) / n1
    v0 = np.maximum(ss0 - n0 * m0**2, 0.0) / (n0 - 1) / n0
    se = np.sqrt(v1 + v0)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
        t = (m1 - m0) / se
    usable_df = np.where(se > 0, df, 1.0)
    # scipy.stats.t.sf(x, df) is stdtr(df, -x) and t.isf(q, df) is -stdtrit(df, q)
    from scipy.special import stdtr, stdtrit

    p = np.where(se > 0, 2 * stdtr(usable_df, -np.abs(t)), (m1 == m0) * 1.0)
    half = np.where(se > 0, -stdtrit(usable_df, alpha / 2) * se, 0.0)
    return p, m1 - m0 - half, m1 - m0 + half


def _adjusted_odds_ratio(
    y: NDArray[np.float64], indicator: NDArray[np.intp], type_codes: NDArray[np.intp], n_types: int
) -> tuple[float | None, float | None]:
    """Odds ratio of ``indicator`` in a binomial GLM ``y ~ C(action_type) + indicator``.

    The covariates are categorical, so the model is fitted on the (action type, indicator) cells
    with their mean outcome and ``var_weights`` = cell size: the same estimates and standard
    errors as the per-action fit, at the cost of a handful of rows.
    """
    cell = type_codes * 2 + indicator
    sizes = np.bincount(cell, minlength=2 * n_types)
    sums = np.bincount(cell, weights=y, minlength=2 * n_types)
    present = np.flatnonzero(sizes)
    cell_type, cell_indicator = np.divmod(present, 2)
    dummies = (cell_type[:, None] == np.arange(1, n_types)[None, :]).astype(float)
    design = np.column_stack([np.ones(present.size), dummies, cell_indicator.astype(float)])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        return None, None  # the feature value coincides with an action type: not separable
    try:
        fit = fit_logistic(design, sums[present] / sizes[present], sizes[present])
    except (np.linalg.LinAlgError, ValueError):
        return None, None
    coefficient, se = float(fit.params[-1]), float(fit.bse[-1])
    # A perfect prediction (separation) or a fit that did not converge is not trustworthy.
    if fit.perfect_prediction or not fit.converged or not (np.isfinite(coefficient) and se > 0):
        return None, None
    wald = math.erfc(abs(coefficient / se) / math.sqrt(2))  # 2·ndtr(-|z|): the Wald test
    return float(np.exp(coefficient)), wald


def _direction(difference: float) -> EffectDirection:
    if difference > 0:
        return EffectDirection.HIGHER
    if difference < 0:
        return EffectDirection.LOWER
    return EffectDirection.NONE


def find_insights(
    features: Mapping[str, ArrayLike],
    y: ArrayLike,
    *,
    action_type: ArrayLike | None = None,
    min_support: int = 30,
    fdr: float = 0.05,
    adjust_for_action_type: bool = True,
    max_insights: int = 20,
    alpha: float = 0.05,
) -> CoachingReport:
    """Find feature values whose outcome differs from the rest, ranked by assured effect size.

    Candidates are the (feature, value) groups with ``min_support`` actions in and out of the
    group; a two-valued feature yields one candidate (its better value), not two mirror images.
    Binary ``y``: two-proportion z-test, Fisher's exact test when an expected cell count is below
    5, Newcombe (1998) interval for the difference. Fractional ``y`` (normalised ordinal
    outcomes): Welch's (1947) t-test and interval on the means. q-values by Benjamini & Hochberg
    (1995) over all candidates; insights are those with ``q <= fdr``, ranked by the interval
    bound closest to zero (the smallest effect compatible with the data).

    >>> rng = np.random.default_rng(0)
    >>> day = rng.choice(["Mon", "Tue", "Wed"], size=3000)
    >>> replied = rng.random(3000) < np.where(day == "Tue", 0.20, 0.10)
    >>> report = find_insights({"weekday": day}, replied)
    >>> top = report.insights[0]
    >>> top.value, top.support, round(top.lift, 2), report.candidates_tested
    ('Tue', 995, 1.96, 3)
    >>> top.measure.value, top.direction.value, round(top.rate, 3), round(top.rest_rate, 3)
    ('success_rate', 'higher', 0.209, 0.107)
    >>> round(top.difference, 3), tuple(round(bound, 3) for bound in top.ci), top.confidence_level
    (0.102, (0.074, 0.132), 0.95)
    """
    y_arr = np.asarray(y, dtype=np.float64)
    if y_arr.ndim != 1 or y_arr.size == 0:
        raise ValueError("y must be a non-empty one-dimensional array")
    if np.isnan(y_arr).any() or (y_arr < 0).any() or (y_arr > 1).any():
        raise ValueError("y has values outside [0, 1]")
    if not isinstance(features, Mapping) or not features:
        raise ValueError("features must be a non-empty mapping of name -> values")
    if isinstance(min_support, bool) or not isinstance(min_support, int) or min_support < 2:
        raise ValueError(f"min_support must be an integer >= 2, got {min_support!r}")
    if not 0 < fdr <= 1:
        raise ValueError(f"fdr must be in (0, 1], got {fdr!r}")
    if isinstance(max_insights, bool) or not isinstance(max_insights, int) or max_insights < 1:
        raise ValueError(f"max_insights must be an integer >= 1, got {max_insights!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    n = y_arr.size
    type_codes, n_types = None, 0
    if action_type is not None:
        types = np.asarray(action_type)
        if types.shape != (n,):
            raise ValueError(f"action_type must be one-dimensional of length {n}")
        type_levels, type_codes = np.unique(types.astype(str), return_inverse=True)
        n_types = type_levels.size
    binary = bool(np.isin(y_arr, (0.0, 1.0)).all())
    total, total_sq = y_arr.sum(), (y_arr**2).sum()

    names, values, inverses, codes, n1, s1, ss1 = [], [], [], [], [], [], []
    for name, column in features.items():  # loops over features, not samples
        distinct, inverse = _categorical(name, column, n)
        counts = np.bincount(inverse, minlength=distinct.size)
        sums = np.bincount(inverse, weights=y_arr, minlength=distinct.size)
        squares = np.bincount(inverse, weights=y_arr**2, minlength=distinct.size)
        eligible = np.flatnonzero((counts >= min_support) & (n - counts >= min_support))
        if distinct.size == 2 and eligible.size == 2:
            means = sums / counts
            eligible = eligible[[int(np.argmax(means))]]
        for code in eligible:
            names.append(name)
            values.append(distinct[code])
            inverses.append(inverse)
            codes.append(code)
            n1.append(counts[code])
            s1.append(sums[code])
            ss1.append(squares[code])
    if not names:
        return CoachingReport((), 0, n, fdr)
    n1_a, s1_a, ss1_a = np.array(n1, float), np.array(s1), np.array(ss1)
    n0_a, s0_a, ss0_a = n - n1_a, total - s1_a, total_sq - ss1_a
    rate, rest = s1_a / n1_a, s0_a / n0_a
    if binary:
        p, tests = _binary_p_values(s1_a, n1_a, s0_a, n0_a)
        lower, upper = newcombe_difference_interval(s1_a, n1_a, s0_a, n0_a, alpha=alpha)
    else:
        p, lower, upper = _welch(s1_a, ss1_a, n1_a, s0_a, ss0_a, n0_a, alpha)
        tests = np.full(p.size, "welch_t")
    q = benjamini_hochberg(np.clip(p, 0.0, 1.0))
    assured = np.where(lower > 0, lower, np.where(upper < 0, -upper, 0.0))
    order = np.lexsort((q, -assured))
    chosen = [i for i in order if q[i] <= fdr][:max_insights]

    measure = Measure.SUCCESS_RATE if binary else Measure.MEAN_OUTCOME
    insights = []
    for i in chosen:  # loops over at most max_insights candidates
        adjusted: tuple[float | None, float | None] = (None, None)
        if adjust_for_action_type and type_codes is not None:
            indicator = (inverses[i] == codes[i]).astype(np.intp)
            adjusted = _adjusted_odds_ratio(y_arr, indicator, type_codes, n_types)
        difference = float(rate[i] - rest[i])
        ci = (float(lower[i]), float(upper[i]))
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = float(rate[i] / rest[i]) if rest[i] > 0 else float("nan")
        insights.append(
            CoachingInsight(
                feature=names[i],
                value=str(values[i]),
                support=int(n1_a[i]),
                rate=float(rate[i]),
                rest_rate=float(rest[i]),
                difference=difference,
                ci=ci,
                lift=lift,
                p_value=float(p[i]),
                q_value=float(q[i]),
                test=str(tests[i]),
                adjusted_odds_ratio=adjusted[0],
                adjusted_p_value=adjusted[1],
                direction=_direction(difference),
                measure=measure,
                confidence_level=1 - alpha,
            )
        )
    return CoachingReport(tuple(insights), len(names), n, fdr)


@dataclass(frozen=True)
class SampleComparison:
    """One sample against another (e.g. after a change against before it): ``rate`` and
    ``baseline_rate`` are what ``measure`` says, ``difference = rate - baseline_rate`` with its
    ``ci`` at ``confidence_level`` and the two-sided ``p_value`` of the test named in ``test``."""

    n: int
    baseline_n: int
    rate: float
    baseline_rate: float
    difference: float
    ci: tuple[float, float]
    p_value: float
    test: str
    measure: Measure
    confidence_level: float


def compare_samples(y: ArrayLike, baseline: ArrayLike, *, alpha: float = 0.05) -> SampleComparison:
    """Compare the outcomes ``y`` with the outcomes ``baseline``, as `find_insights` compares a
    group with the rest: binary outcomes by the two-proportion z-test (Fisher's exact test when
    an expected cell is below 5) with Newcombe's (1998) interval; fractional ones by Welch's
    (1947) t-test and interval.

    >>> result = compare_samples([1] * 30 + [0] * 70, [1] * 15 + [0] * 85)
    >>> round(result.difference, 2), tuple(round(b, 3) for b in result.ci), result.test
    (0.15, (0.034, 0.261), 'two_proportion_z')
    """
    after = np.asarray(y, dtype=np.float64)
    before = np.asarray(baseline, dtype=np.float64)
    for name, values in (("y", after), ("baseline", before)):
        if values.ndim != 1 or values.size < 2:
            raise ValueError(f"{name} must be one-dimensional with at least 2 outcomes")
        if np.isnan(values).any() or (values < 0).any() or (values > 1).any():
            raise ValueError(f"{name} has values outside [0, 1]")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    n1, n0 = np.array([after.size], float), np.array([before.size], float)
    s1, s0 = np.array([after.sum()]), np.array([before.sum()])
    binary = bool(np.isin(after, (0.0, 1.0)).all() and np.isin(before, (0.0, 1.0)).all())
    if binary:
        p, tests = _binary_p_values(s1, n1, s0, n0)
        lower, upper = newcombe_difference_interval(s1, n1, s0, n0, alpha=alpha)
        test = str(tests[0])
    else:
        ss1, ss0 = np.array([(after**2).sum()]), np.array([(before**2).sum()])
        p, lower, upper = _welch(s1, ss1, n1, s0, ss0, n0, alpha)
        test = "welch_t"
    rate, baseline_rate = float(after.mean()), float(before.mean())
    return SampleComparison(
        n=int(after.size),
        baseline_n=int(before.size),
        rate=rate,
        baseline_rate=baseline_rate,
        difference=rate - baseline_rate,
        ci=(float(lower[0]), float(upper[0])),
        p_value=float(min(max(p[0], 0.0), 1.0)),
        test=test,
        measure=Measure.SUCCESS_RATE if binary else Measure.MEAN_OUTCOME,
        confidence_level=1 - alpha,
    )
