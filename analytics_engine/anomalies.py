"""Anomalies in daily series for alerts: a rate (successes out of counts) or a plain value.

Each day is judged against the series' own trailing baseline with weekday seasonality; the rate
detector also runs a two-sided CUSUM for sustained shifts.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray
from scipy import special as _sp
from scipy import stats as _st

Direction = Literal["drop", "spike"]
Severity = Literal["info", "warning", "critical"]
_ORDINAL_OF_EPOCH = dt.date(1970, 1, 1).toordinal()
_EXACT_MAX_COUNT = 5000  # above this the beta-binomial tail is taken from its normal limit
_TAIL_CHUNK_TERMS = 1 << 20  # pmf terms summed at once by ``_beta_binomial_tails``


@dataclass(frozen=True)
class RateAnomaly:
    """A day (``kind="day"``) or a run of days (``kind="sustained"``, from ``start_day`` to
    ``day``) whose rate departs from its baseline. ``z`` is the signed normal equivalent of the
    tail probability (day) or the standardised excess over the run (sustained); ``p_value`` is
    the one-sided predictive tail probability of the day, NaN for a sustained shift (the run is
    chosen by the CUSUM, so a nominal p-value would mislead)."""

    day: dt.date
    start_day: dt.date
    kind: Literal["day", "sustained"]
    direction: Direction
    count: float
    successes: float
    observed_rate: float
    expected_rate: float
    difference: float
    relative_change: float
    z: float
    p_value: float
    severity: Severity


@dataclass(frozen=True)
class ValueAnomaly:
    """A day whose value departs from the median of its baseline by ``robust_z`` MAD units."""

    day: dt.date
    direction: Direction
    observed: float
    expected: float
    difference: float
    relative_change: float
    robust_z: float
    severity: Severity


def _epoch_days(days: ArrayLike) -> NDArray[np.int64]:
    array = np.asarray(days)
    if array.ndim != 1 or array.size == 0:
        raise ValueError("days must be a non-empty one-dimensional array")
    if array.dtype.kind in "iu":  # proleptic Gregorian ordinals, as date.toordinal()
        epoch = array.astype(np.int64) - _ORDINAL_OF_EPOCH
    else:
        try:
            as_dates = array.astype("datetime64[D]")
        except (TypeError, ValueError):
            raise ValueError("days must be dates (datetime64, date, ISO) or ordinals") from None
        if np.isnat(as_dates).any():
            raise ValueError("days contains NaT")
        epoch = as_dates.astype(np.int64)
    if (np.diff(epoch) <= 0).any():
        raise ValueError("days must be strictly increasing")
    return epoch


def _to_date(epoch_day: int) -> dt.date:
    return dt.date.fromordinal(int(epoch_day) + _ORDINAL_OF_EPOCH)


def _on_grid(
    offsets: NDArray[np.int64], values: NDArray[np.float64], length: int, fill: float
) -> NDArray[np.float64]:
    grid = np.full(length, fill)
    grid[offsets] = values
    return grid


def _trailing_sum(grid: NDArray[np.float64], days: int) -> NDArray[np.float64]:
    """Sum of the ``days`` grid cells before each cell (the cell itself excluded)."""
    cumulative = np.concatenate([[0.0], np.cumsum(grid)])
    index = np.arange(grid.size)
    return cumulative[index] - cumulative[np.maximum(index - days, 0)]


def _trailing_same_weekday_sum(grid: NDArray[np.float64], weeks: int) -> NDArray[np.float64]:
    """Sum of the cells 7, 14, ..., 7*weeks days before each cell."""
    weeks_grid = np.concatenate([grid, np.zeros((-grid.size) % 7)]).reshape(-1, 7)
    cumulative = np.vstack([np.zeros((1, 7)), np.cumsum(weeks_grid, axis=0)])
    week, weekday = np.divmod(np.arange(grid.size), 7)
    return cumulative[week, weekday] - cumulative[np.maximum(week - weeks, 0), weekday]


def _beta_binomial_tails(
    x: NDArray[np.float64], n: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``P(X <= x)`` and ``P(X >= x)`` for ``X ~ BetaBinomial(n, a, b)``, element-wise.

    The smaller tail (the side of ``x`` away from the mean) is ``pmf(x)`` times the sum of the
    running products of the pmf's term ratios, ``pmf(k + 1) / pmf(k) = (n - k)(k + a) /
    ((k + 1)(n - k - 1 + b))``, summed in full, so a tail of 1e-30 keeps its digits; the other
    is ``1 + pmf(x) -`` that tail. The values of scipy's ``betabinom.cdf`` and ``sf`` (which
    sum the pmf element by element, 10-20x slower here) without their ``1 - cdf``
    cancellation in far upper tails.
    """
    lower = x * (a + b) <= n * a  # at or below the mean: the lower tail is the smaller one
    terms = np.where(lower, x, n - x).astype(np.int64) + 1
    log_pmf_x = (
        _sp.gammaln(n + 1.0)
        - _sp.gammaln(x + 1.0)
        - _sp.gammaln(n - x + 1.0)
        + _sp.betaln(x + a, n - x + b)
        - _sp.betaln(a, b)
    )
    pmf_x = np.exp(log_pmf_x)
    tail = np.empty(x.size)
    order = np.argsort(terms)  # rows of similar length together: little padding
    start = 0
    while start < order.size:
        stop = int(np.searchsorted(terms[order], _TAIL_CHUNK_TERMS // (order.size - start)))
        rows = order[start : max(stop, start + 1)]
        step = np.arange(1, int(terms[rows].max()))
        inside = step < terms[rows, None]
        xr, nr, ar, br = x[rows, None], n[rows, None], a[rows, None], b[rows, None]
        sign = np.where(lower[rows, None], -1.0, 1.0)
        k = xr + sign * step - (sign > 0)  # the ratio from term k to k - 1, or to k + 1
        with np.errstate(divide="ignore", invalid="ignore"):  # in the padding only
            up = (nr - k) * (k + ar) / ((k + 1.0) * (nr - k - 1.0 + br))
            ratio = np.where(inside, np.where(sign > 0, up, 1.0 / up), 0.0)
        with np.errstate(under="ignore"):
            tail[rows] = pmf_x[rows] * (1.0 + np.cumprod(ratio, axis=1).sum(axis=1))
        start += rows.size
    tail = np.minimum(tail, 1.0)
    other = np.clip(1.0 + pmf_x - tail, 0.0, 1.0)
    p_low = np.where(lower, tail, other)
    p_high = np.where(lower, other, tail)
    return p_low, p_high


def _severity(
    level: NDArray[np.float64], thresholds: tuple[float, float, float]
) -> NDArray[np.intp]:
    """0 none, 1 info, 2 warning, 3 critical, for ``level`` where larger is more extreme."""
    return (level[:, None] >= np.asarray(thresholds)[None, :]).sum(axis=1)


_SEVERITIES: tuple[Severity, Severity, Severity] = ("info", "warning", "critical")


def _check_options(baseline_days: int, min_relative_change: float) -> None:
    if isinstance(baseline_days, bool) or not isinstance(baseline_days, int) or baseline_days < 7:
        raise ValueError(f"baseline_days must be an integer >= 7, got {baseline_days!r}")
    if not min_relative_change >= 0:
        raise ValueError(f"min_relative_change must be >= 0, got {min_relative_change!r}")


def detect_rate_anomalies(
    days: ArrayLike,
    counts: ArrayLike,
    successes: ArrayLike,
    *,
    baseline_days: int = 56,
    min_count: int = 20,
    min_baseline_count: int = 100,
    weekday_seasonality: bool = True,
    weekday_shrinkage: float = 10.0,
    severity_p_values: tuple[float, float, float] = (0.01, 0.00135, 3.17e-5),
    min_relative_change: float = 0.1,
    cusum_k: float = 0.5,
    cusum_h: float = 3.0,
    cusum_clip: float = 3.0,
) -> tuple[RateAnomaly, ...]:
    """Drops and spikes of a daily rate, judged against its own trailing baseline.

    Baseline of day t: the ``baseline_days`` before t (t excluded). With weekday seasonality the
    same-weekday days of that window give the rate, shrunk towards the whole window's rate by
    ``weekday_shrinkage`` pseudo-trials: the day's rate has a Beta(a, b) posterior,
    ``a = x_wd + m p_all``, ``b = n_wd - x_wd + m (1 - p_all)``. The day's successes are judged
    by their beta-binomial posterior predictive tail (Gelman et al., *Bayesian Data Analysis*,
    3rd ed., sec. 6.3), which widens the binomial p-chart limits of Montgomery (*Introduction to
    Statistical Quality Control*, 7th ed., sec. 7.2) by the baseline's own uncertainty. Days with
    fewer than ``min_count`` trials, or baselines under ``min_baseline_count``, are not judged.
    Severity from the one-sided tail: info <= 1e-2, warning <= 0.00135 (3 sigma), critical
    <= 3.17e-5 (4 sigma); changes smaller than ``min_relative_change`` of the expected rate are
    ignored. Sustained shifts: a two-sided tabular CUSUM on the standardised daily excess (Page
    1954; Montgomery sec. 9.1), reference ``k = 0.5`` and decision interval ``h = 3``
    (in-control average run length about 120 judged days, out-of-control about 6 for a shift of
    one standard deviation a day, by Siegmund's 1985 approximation), reported when it crosses
    ``h``; daily excesses are winsorised at ``cusum_clip`` = 3 (the robust CUSUM of Lucas &
    Crosier 1982), so one outlying day, which the daily test reports, cannot alone signal a
    sustained shift.

    The defaults are the alert rules' (``bench/alert_quality.py``, docs/performance.md): with
    an 8-week baseline and ``h = 3`` a 30 % drop of a team's replies (about 9 a day) is found in
    a median 5 working days, with under 1 false alarm per 20 weeks of a steady series; the
    former 4 weeks and ``h = 5`` took 10, as the 4-week baseline soon took the drop in.

    >>> days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-03-01"))
    >>> counts = np.full(days.size, 200)
    >>> successes = np.full(days.size, 60)
    >>> successes[50] = 20
    >>> [(str(a.day), a.kind, a.direction, a.severity) for a in
    ...  detect_rate_anomalies(days, counts, successes)]
    [('2024-02-20', 'day', 'drop', 'critical')]
    """
    epoch = _epoch_days(days)
    n = np.asarray(counts, dtype=np.float64)
    x = np.asarray(successes, dtype=np.float64)
    if n.shape != epoch.shape or x.shape != epoch.shape:
        raise ValueError("days, counts and successes must have the same length")
    if not np.isfinite(n).all() or (n < 0).any() or (n != np.round(n)).any():
        raise ValueError("counts must be non-negative integers")
    if not np.isfinite(x).all() or (x < 0).any() or (x != np.round(x)).any() or (x > n).any():
        raise ValueError("successes must be integers in [0, counts]")
    _check_options(baseline_days, min_relative_change)
    if not 0 < severity_p_values[2] < severity_p_values[1] < severity_p_values[0] < 1:
        raise ValueError("severity_p_values must be decreasing values in (0, 1)")
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")
    if not (weekday_shrinkage > 0 and cusum_k >= 0 and cusum_h > 0 and cusum_clip > 0):
        raise ValueError("weekday_shrinkage, cusum_h and cusum_clip must be > 0, cusum_k >= 0")

    offsets = epoch - epoch[0]
    length = int(offsets[-1]) + 1
    n_grid, x_grid = _on_grid(offsets, n, length, 0.0), _on_grid(offsets, x, length, 0.0)
    n_all, x_all = _trailing_sum(n_grid, baseline_days), _trailing_sum(x_grid, baseline_days)
    if weekday_seasonality:
        weeks = max(baseline_days // 7, 1)
        n_wd = _trailing_same_weekday_sum(n_grid, weeks)
        x_wd = _trailing_same_weekday_sum(x_grid, weeks)
        p_all = (x_all + 0.5) / (n_all + 1.0)
        a = x_wd + weekday_shrinkage * p_all
        b = n_wd - x_wd + weekday_shrinkage * (1.0 - p_all)
    else:
        a, b = x_all + 0.5, n_all - x_all + 0.5
    a, b, n_all = a[offsets], b[offsets], n_all[offsets]
    expected = a / (a + b)
    tested = (n >= min_count) & (n_all >= min_baseline_count)

    # Beta-binomial predictive moments, then exact tails where counts are moderate.
    variance = n * expected * (1 - expected) * (a + b + n) / (a + b + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(tested, (x - n * expected) / np.sqrt(variance), 0.0)
    exact = tested & (n <= _EXACT_MAX_COUNT)
    p_low = _st.norm.cdf(np.where(variance > 0, z, 0.0) + 0.5 / np.sqrt(np.maximum(variance, 1)))
    p_high = _st.norm.sf(np.where(variance > 0, z, 0.0) - 0.5 / np.sqrt(np.maximum(variance, 1)))
    p_low[exact], p_high[exact] = _beta_binomial_tails(x[exact], n[exact], a[exact], b[exact])
    p_value = np.minimum(np.minimum(p_low, p_high), 1.0)
    signed_z = np.where(p_low < p_high, -1.0, 1.0) * _st.norm.isf(np.maximum(p_value, 1e-300))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, x / np.maximum(n, 1), np.nan)
        relative = (rate - expected) / expected
    big_enough = np.abs(rate - expected) >= min_relative_change * expected
    level = _severity(
        -np.log(np.maximum(p_value, 1e-300)), tuple(-np.log(np.asarray(severity_p_values)))
    )
    flagged = np.flatnonzero(tested & big_enough & (level > 0))

    found = [
        RateAnomaly(
            day=_to_date(epoch[i]),
            start_day=_to_date(epoch[i]),
            kind="day",
            direction="drop" if signed_z[i] < 0 else "spike",
            count=float(n[i]),
            successes=float(x[i]),
            observed_rate=float(rate[i]),
            expected_rate=float(expected[i]),
            difference=float(rate[i] - expected[i]),
            relative_change=float(relative[i]),
            z=float(signed_z[i]),
            p_value=float(p_value[i]),
            severity=_SEVERITIES[level[i] - 1],
        )
        for i in flagged
    ]
    found += _cusum_shifts(
        epoch,
        n,
        x,
        expected,
        z,
        tested,
        cusum_k,
        cusum_h,
        cusum_clip,
        min_relative_change,
        variance,
    )
    return tuple(sorted(found, key=lambda anomaly: (anomaly.day, anomaly.kind)))


def _cusum_shifts(
    epoch: NDArray[np.int64],
    n: NDArray[np.float64],
    x: NDArray[np.float64],
    expected: NDArray[np.float64],
    z: NDArray[np.float64],
    tested: NDArray[np.bool_],
    k: float,
    h: float,
    clip: float,
    min_relative_change: float,
    variance: NDArray[np.float64],
) -> list[RateAnomaly]:
    """Crossings of ``h`` by the upper and lower CUSUMs ``S_t = max(0, S_{t-1} + w_t)``,
    computed without a loop as ``C_t - min(0, min_{s<=t} C_s)`` with ``C`` the cumsum of ``w``."""
    index = np.arange(n.size)
    shifts: list[RateAnomaly] = []
    cum_x = np.concatenate([[0.0], np.cumsum(np.where(tested, x, 0.0))])
    cum_n = np.concatenate([[0.0], np.cumsum(np.where(tested, n, 0.0))])
    cum_e = np.concatenate([[0.0], np.cumsum(np.where(tested, n * expected, 0.0))])
    cum_v = np.concatenate([[0.0], np.cumsum(np.where(tested, variance, 0.0))])
    signs: tuple[tuple[Direction, float], ...] = (("spike", 1.0), ("drop", -1.0))
    for direction, sign in signs:
        c = np.cumsum(np.where(tested, np.clip(sign * z, -clip, clip) - k, 0.0))
        s = c - np.minimum.accumulate(np.minimum(c, 0.0))
        crossing = np.flatnonzero((s >= h) & (np.concatenate([[0.0], s[:-1]]) < h))
        last_zero = np.maximum.accumulate(np.where(s <= 0, index, -1))
        for t in crossing:
            start = int(last_zero[t]) + 1
            run_n, run_x = cum_n[t + 1] - cum_n[start], cum_x[t + 1] - cum_x[start]
            run_e, run_v = cum_e[t + 1] - cum_e[start], cum_v[t + 1] - cum_v[start]
            observed, predicted = run_x / run_n, run_e / run_n
            if abs(observed - predicted) < min_relative_change * predicted:
                continue
            shifts.append(
                RateAnomaly(
                    day=_to_date(epoch[t]),
                    start_day=_to_date(epoch[start]),
                    kind="sustained",
                    direction=direction,
                    count=float(run_n),
                    successes=float(run_x),
                    observed_rate=float(observed),
                    expected_rate=float(predicted),
                    difference=float(observed - predicted),
                    relative_change=float((observed - predicted) / predicted),
                    z=float((run_x - run_e) / np.sqrt(run_v)),
                    p_value=float("nan"),
                    severity="critical" if s[t] >= 2 * h else "warning",
                )
            )
    return shifts


def detect_value_anomalies(
    days: ArrayLike,
    values: ArrayLike,
    *,
    baseline_days: int = 28,
    weekday_seasonality: bool = True,
    min_baseline_days: int = 21,
    severity_z: tuple[float, float, float] = (3.5, 5.0, 7.0),
    min_relative_change: float = 0.1,
) -> tuple[ValueAnomaly, ...]:
    """Outlying days of a metric (cost per day, volume, ...) by a robust modified z-score.

    Expected value of day t: median of the same weekday in the ``baseline_days`` before t (or of
    the whole window without seasonality). Noise: 1.4826 x MAD (Rousseeuw & Croux 1993) of the
    window's week-over-week differences divided by sqrt 2 (of the window's values without
    seasonality), inflated by sqrt(1 + pi / 2m) for the median of m baseline values it is
    compared with. ``robust_z = (value - expected) / scale``;
    flagged from 3.5 (Iglewicz & Hoaglin 1993), warning from 5, critical from 7, and only when
    the change is at least ``min_relative_change`` of the expected value.

    >>> days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-03-01"))
    >>> cost = 100.0 + np.arange(days.size) % 3
    >>> cost[45] = 160.0
    >>> [(str(a.day), a.direction, a.severity) for a in detect_value_anomalies(days, cost)]
    [('2024-02-15', 'spike', 'critical')]
    """
    epoch = _epoch_days(days)
    v = np.asarray(values, dtype=np.float64)
    if v.shape != epoch.shape:
        raise ValueError("days and values must have the same length")
    if not np.isfinite(v).all():
        raise ValueError("values must be finite")
    _check_options(baseline_days, min_relative_change)
    if weekday_seasonality and baseline_days % 7:
        raise ValueError(f"baseline_days must be a multiple of 7, got {baseline_days}")
    if not 0 < severity_z[0] < severity_z[1] < severity_z[2]:
        raise ValueError("severity_z must be increasing positive thresholds")

    offsets = epoch - epoch[0]
    length = int(offsets[-1]) + 1
    grid = np.concatenate([np.full(baseline_days, np.nan), _on_grid(offsets, v, length, np.nan)])
    windows = sliding_window_view(grid, baseline_days)[:length][offsets]
    with warnings.catch_warnings():  # all-NaN windows (series start, gaps) give NaN on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        if weekday_seasonality:
            weeks = baseline_days // 7
            by_weekday = windows.reshape(offsets.size, weeks, 7)
            expected = np.nanmedian(by_weekday[:, :, 0], axis=1)
            # week-over-week differences are free of the weekday level and have variance 2 s^2
            spread = np.diff(by_weekday, axis=1).reshape(offsets.size, -1) / np.sqrt(2.0)
        else:
            weeks = baseline_days
            expected = np.nanmedian(windows, axis=1)
            spread = windows
        centre = np.nanmedian(spread, axis=1)
        noise = 1.4826 * np.nanmedian(np.abs(spread - centre[:, None]), axis=1)
    # the day's noise plus that of the median it is compared with (variance ~ pi s^2 / 2m)
    scale = noise * np.sqrt(1.0 + np.pi / (2.0 * weeks))
    enough = (np.isfinite(windows).sum(axis=1) >= min_baseline_days) & np.isfinite(expected)
    difference = v - expected
    with np.errstate(invalid="ignore", divide="ignore"):
        robust_z = np.where(difference == 0, 0.0, difference / scale)
        relative = difference / np.abs(expected)
    level = _severity(np.where(enough, np.abs(robust_z), 0.0), severity_z)
    big_enough = np.abs(difference) >= min_relative_change * np.abs(expected)
    return tuple(
        ValueAnomaly(
            day=_to_date(epoch[i]),
            direction="drop" if difference[i] < 0 else "spike",
            observed=float(v[i]),
            expected=float(expected[i]),
            difference=float(difference[i]),
            relative_change=float(relative[i]),
            robust_z=float(robust_z[i]),
            severity=_SEVERITIES[level[i] - 1],
        )
        for i in np.flatnonzero(enough & big_enough & (level > 0))
    )
