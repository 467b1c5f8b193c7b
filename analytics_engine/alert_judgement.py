"""How a threshold, anomaly or drift alert rule judges a daily rate series as of a day: whether
its condition holds, whether it has cleared past the hysteresis band, and the figures behind it.

The worker judges the rollups with these functions, and ``bench/alert_quality.py`` judges
simulated series with the same ones. Importing this module loads no scipy: the detector
(``analytics_engine.anomalies``) is imported by the functions that run it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from analytics_engine.anomalies import RateAnomaly

RuleKind = Literal["threshold", "anomaly", "drift"]
Direction = Literal["above", "below"]

MIN_TRIALS = 20  # a threshold on fewer trials than this is not judged
HISTORY_DAYS = 91  # what the anomaly and drift detectors read: their baseline and CUSUM
HYSTERESIS = 0.1  # default clear threshold: 10 % of the threshold back on the good side
_FINDING_OF_KIND = {"anomaly": "day", "drift": "sustained"}
_FINDING_DIRECTION = {"above": "spike", "below": "drop"}


@dataclass(frozen=True)
class RuleJudgement:
    """What a rule finds as of a day.

    - ``holds``: the condition holds (threshold: the pooled value is beyond the threshold;
      anomaly and drift: a finding of the rule's kind and direction lies in the window).
    - ``cleared``: past the clear threshold (threshold rules); not holding (the others). An
      open alert resolves only after its condition stayed cleared for the rule's hold period.
    - ``observed``, ``expected``, ``n``: the pooled value, the threshold and the trials pooled
      (threshold); the latest finding's rate, baseline and trials (anomaly, drift); ``None``,
      ``None`` and 0 when nothing was found.
    - ``window_start``, ``window_end``: the judged days (``None`` when judged on a value).
    - ``clear_threshold`` (threshold rules) and ``finding`` (anomaly and drift: the latest).
    """

    holds: bool
    cleared: bool
    observed: float | None
    expected: float | None
    n: float
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    clear_threshold: float | None = None
    finding: RateAnomaly | None = None


def _check_direction(direction: object, *, required: bool) -> None:
    if direction is None and not required:
        return
    if direction not in _FINDING_DIRECTION:
        raise ValueError(f"direction must be 'above' or 'below', got {direction!r}")


def _check_window_days(window_days: object) -> int:
    if isinstance(window_days, bool) or not isinstance(window_days, int | np.integer):
        raise ValueError(f"window_days must be a positive integer, got {window_days!r}")
    if window_days < 1:
        raise ValueError(f"window_days must be a positive integer, got {window_days!r}")
    return int(window_days)


def default_clear_threshold(threshold: float, direction: Direction) -> float:
    """Where an open threshold alert clears by default: 10 % of the threshold back on the good
    side.

    >>> default_clear_threshold(0.06, "below"), default_clear_threshold(0.05, "above")
    (0.066, 0.045)
    """
    _check_direction(direction, required=True)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    margin = HYSTERESIS * abs(threshold)
    return threshold - margin if direction == "above" else threshold + margin


def _beyond(value: float, bound: float, direction: str) -> bool:
    return value > bound if direction == "above" else value < bound


def judge_threshold_value(
    value: float,
    n: float,
    *,
    direction: Direction,
    threshold: float,
    clear_threshold: float | None = None,
    min_trials: float = MIN_TRIALS,
) -> RuleJudgement | None:
    """A threshold rule on an already pooled ``value`` of ``n`` trials; ``None`` (not judged)
    under ``min_trials`` or when the value is not finite.

    Holds when ``value`` is beyond ``threshold`` in ``direction``; cleared when it is not
    beyond ``clear_threshold`` (default ``default_clear_threshold``) either, so between the two
    an open alert neither fires again nor starts to clear (hysteresis).

    >>> j = judge_threshold_value(0.062, 400, direction="below", threshold=0.06)
    >>> j.holds, j.cleared, j.clear_threshold  # inside the band [0.06, 0.066]
    (False, False, 0.066)
    """
    _check_direction(direction, required=True)
    clear = default_clear_threshold(threshold, direction)
    if clear_threshold is not None:
        if not np.isfinite(clear_threshold) or _beyond(clear_threshold, threshold, direction):
            raise ValueError(
                f"clear_threshold must be on the good side of threshold {threshold!r}, "
                f"got {clear_threshold!r}"
            )
        clear = float(clear_threshold)
    if not n >= min_trials or not np.isfinite(value):
        return None
    holds = _beyond(value, threshold, direction)
    return RuleJudgement(
        holds=holds,
        cleared=not holds and not _beyond(value, clear, direction),
        observed=float(value),
        expected=float(threshold),
        n=float(n),
        clear_threshold=clear,
    )


def _as_of_day(as_of: dt.date | str | np.datetime64 | None, days: NDArray[Any]) -> np.datetime64:
    if as_of is None:
        return np.datetime64(days[-1], "D")
    try:
        raw = np.asarray(as_of)
        if raw.dtype.kind in "iufb":
            raise TypeError("a number is not a date")
        day = raw.astype("datetime64[D]")
    except (TypeError, ValueError):
        raise ValueError(f"as_of must be a date, got {as_of!r}") from None
    if day.ndim != 0 or np.isnat(day):
        raise ValueError(f"as_of must be a date, got {as_of!r}")
    return np.datetime64(day.item(), "D")


def _daily_series(
    days: ArrayLike, trials: ArrayLike, successes: ArrayLike
) -> tuple[NDArray[np.datetime64], NDArray[np.float64], NDArray[np.float64]]:
    """The series checked: dates strictly increasing, counts non-negative integers."""
    raw = np.asarray(days)
    if raw.ndim != 1 or raw.size == 0:
        raise ValueError("days must be a non-empty one-dimensional array")
    if raw.dtype.kind in "iufb":
        raise ValueError("days must be dates (datetime64, date or ISO strings), not numbers")
    try:
        as_dates = raw.astype("datetime64[D]")
    except (TypeError, ValueError):
        raise ValueError("days must be dates (datetime64, date or ISO strings)") from None
    if np.isnat(as_dates).any():
        raise ValueError("days contains NaT")
    if (np.diff(as_dates.astype(np.int64)) <= 0).any():
        raise ValueError("days must be strictly increasing")
    n = np.asarray(trials, dtype=np.float64)
    x = np.asarray(successes, dtype=np.float64)
    if n.shape != as_dates.shape or x.shape != as_dates.shape:
        raise ValueError("days, trials and successes must have the same length")
    if not np.isfinite(n).all() or (n < 0).any() or (n != np.round(n)).any():
        raise ValueError("trials must be non-negative integers")
    if not np.isfinite(x).all() or (x < 0).any() or (x != np.round(x)).any() or (x > n).any():
        raise ValueError("successes must be integers in [0, trials]")
    return as_dates, n, x


def judge_rate_threshold(
    days: ArrayLike,
    trials: ArrayLike,
    successes: ArrayLike,
    *,
    direction: Direction,
    threshold: float,
    window_days: int,
    clear_threshold: float | None = None,
    as_of: dt.date | str | np.datetime64 | None = None,
    min_trials: float = MIN_TRIALS,
) -> RuleJudgement | None:
    """A threshold rule on a daily rate: the successes over the trials of the ``window_days``
    days to ``as_of`` (default: the last day given; later days are ignored), pooled into one
    rate and judged by ``judge_threshold_value``; ``None`` under ``min_trials``.

    Pooling makes the rule judge a sustained level: one bad day in seven rarely pools below it.

    >>> days = np.arange(np.datetime64("2024-03-01"), np.datetime64("2024-03-08"))
    >>> j = judge_rate_threshold(days, [100] * 7, [10, 9, 8, 2, 8, 9, 10], direction="below",
    ...                          threshold=0.06, window_days=7)
    >>> j.holds, round(j.observed, 4), j.n  # 56 / 700: the bad day does not pool below 6 %
    (False, 0.08, 700.0)
    """
    as_dates, n, x = _daily_series(days, trials, successes)
    window = _check_window_days(window_days)
    until = _as_of_day(as_of, as_dates)
    since = until - np.timedelta64(window - 1, "D")
    inside = (as_dates >= since) & (as_dates <= until)
    pooled_n, pooled_x = float(n[inside].sum()), float(x[inside].sum())
    judged = judge_threshold_value(
        pooled_x / pooled_n if pooled_n > 0 else float("nan"),
        pooled_n,
        direction=direction,
        threshold=threshold,
        clear_threshold=clear_threshold,
        min_trials=min_trials,
    )
    if judged is None:
        return None
    return RuleJudgement(
        holds=judged.holds,
        cleared=judged.cleared,
        observed=judged.observed,
        expected=judged.expected,
        n=judged.n,
        window_start=since.astype(dt.date),
        window_end=until.astype(dt.date),
        clear_threshold=judged.clear_threshold,
    )


def rate_findings(
    days: ArrayLike,
    trials: ArrayLike,
    successes: ArrayLike,
    *,
    as_of: dt.date | str | np.datetime64 | None = None,
    history_days: int = HISTORY_DAYS,
    **detector_options: Any,
) -> tuple[RateAnomaly, ...]:
    """What ``analytics_engine.anomalies.detect_rate_anomalies`` finds on the ``history_days``
    days to ``as_of`` (default: the last day given): the history an anomaly or drift rule reads
    (its weekday baselines and its CUSUM start there). Days missing from the arrays count as
    days without trials. ``detector_options`` go to the detector.
    """
    from analytics_engine.anomalies import detect_rate_anomalies

    as_dates, n, x = _daily_series(days, trials, successes)
    history = _check_window_days(history_days)
    until = _as_of_day(as_of, as_dates)
    inside = (as_dates > until - np.timedelta64(history, "D")) & (as_dates <= until)
    if not inside.any():
        return ()
    return detect_rate_anomalies(as_dates[inside], n[inside], x[inside], **detector_options)


def judge_findings(
    findings: tuple[RateAnomaly, ...],
    *,
    kind: Literal["anomaly", "drift"],
    direction: Direction | None,
    window_days: int,
    as_of: dt.date,
) -> RuleJudgement:
    """An anomaly rule (findings of kind ``day``) or a drift rule (``sustained``: a CUSUM
    crossing) on the detector's ``findings``: holds while one of its kind and direction
    (``above``: spikes, ``below``: drops, ``None``: both) lies in the ``window_days`` days to
    ``as_of``; the latest one is the evidence.
    """
    if kind not in _FINDING_OF_KIND:
        raise ValueError(f"kind must be 'anomaly' or 'drift', got {kind!r}")
    _check_direction(direction, required=False)
    window = _check_window_days(window_days)
    since = as_of - dt.timedelta(days=window - 1)
    wanted = None if direction is None else _FINDING_DIRECTION[direction]
    found = [
        a
        for a in findings
        if a.kind == _FINDING_OF_KIND[kind]
        and since <= a.day <= as_of
        and (wanted is None or a.direction == wanted)
    ]
    if not found:
        return RuleJudgement(
            holds=False,
            cleared=True,
            observed=None,
            expected=None,
            n=0.0,
            window_start=since,
            window_end=as_of,
        )
    latest = found[-1]
    return RuleJudgement(
        holds=True,
        cleared=False,
        observed=latest.observed_rate,
        expected=latest.expected_rate,
        n=latest.count,
        window_start=since,
        window_end=as_of,
        finding=latest,
    )


def judge_rate_rule(
    days: ArrayLike,
    trials: ArrayLike,
    successes: ArrayLike,
    *,
    kind: RuleKind,
    direction: Direction | None,
    window_days: int,
    threshold: float | None = None,
    clear_threshold: float | None = None,
    as_of: dt.date | str | np.datetime64 | None = None,
) -> RuleJudgement | None:
    """A threshold, anomaly or drift rule on a daily rate series as of ``as_of`` (default: the
    last day given): ``judge_rate_threshold`` for thresholds (``None``: too few trials to
    judge), else ``judge_findings`` on ``rate_findings`` over ``HISTORY_DAYS``.

    >>> days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-03-01"))
    >>> counts, replies = np.full(days.size, 200), np.full(days.size, 60)
    >>> replies[55] = 20
    >>> j = judge_rate_rule(days, counts, replies, kind="anomaly", direction="below",
    ...                     window_days=7)
    >>> j.holds, str(j.finding.day), round(j.observed, 3), round(j.expected, 3)
    (True, '2024-02-25', 0.1, 0.3)
    """
    if kind == "threshold":
        if threshold is None:
            raise ValueError("threshold is required for a threshold rule")
        if direction is None:
            raise ValueError("direction is required for a threshold rule")
        return judge_rate_threshold(
            days,
            trials,
            successes,
            direction=direction,
            threshold=threshold,
            clear_threshold=clear_threshold,
            window_days=window_days,
            as_of=as_of,
        )
    if kind not in _FINDING_OF_KIND:
        raise ValueError(f"kind must be 'threshold', 'anomaly' or 'drift', got {kind!r}")
    as_dates, _, _ = _daily_series(days, trials, successes)
    until = _as_of_day(as_of, as_dates)
    findings = rate_findings(days, trials, successes, as_of=until)
    return judge_findings(
        findings,
        kind=kind,
        direction=direction,
        window_days=window_days,
        as_of=until.astype(dt.date),
    )
