"""Monte Carlo of monitoring: the false-alarm rate of ``assess`` re-evaluated after every
outcome of a perfectly calibrated agent (docs/calibration.md), and simulated daily reply series
judged by the alert rules as the worker judges them (bench/alert_quality.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from analytics_engine.alert_judgement import (
    Direction,
    RuleJudgement,
    judge_findings,
    judge_rate_threshold,
    judge_threshold_value,
    rate_findings,
)
from analytics_engine.calibration_batch import batch_sums
from analytics_engine.calibration_metrics import debiased_calibration_error
from analytics_engine.calibration_stats import CalibrationStats
from analytics_engine.verdict import assess

ConfidenceSampler = Callable[[np.random.Generator, int], NDArray[np.float64]]


def uniform_confidence(rng: np.random.Generator, size: int) -> NDArray[np.float64]:
    """Confidences uniform on [0.05, 0.95]."""
    return rng.uniform(0.05, 0.95, size)


def high_confidence(rng: np.random.Generator, size: int) -> NDArray[np.float64]:
    """Confidences skewed high, Beta(5, 2) (mean 0.71), as a sales agent's tend to be."""
    return rng.beta(5.0, 2.0, size)


@dataclass(frozen=True)
class FalseAlarmRate:
    """``alarms`` of ``runs`` runs raised a verdict other than insufficient_data/calibrated at
    some point within ``horizon`` outcomes; ``first_alarm`` holds the outcome count of each
    run's first alarm (0 when none)."""

    rate: float
    alarms: int
    runs: int
    horizon: int
    first_alarm: NDArray[np.intp]


def false_alarm_rate(
    *,
    runs: int,
    horizon: int,
    rng: np.random.Generator,
    confidence: ConfidenceSampler = uniform_confidence,
    exhaustive: bool = False,
    n_bins: int = 20,
    **assess_options: Any,
) -> FalseAlarmRate:
    """Share of calibrated runs (``y ~ Bernoulli(p)``) that ``assess(**assess_options)`` ever
    flags when evaluated after each of ``horizon`` outcomes.

    By default ``assess`` is called only at the outcomes where one of its z statistics (kept
    as running sums, with a small margin) reaches the threshold: a necessary condition for
    an alarm, so the result equals evaluating after every outcome. ``exhaustive=True`` does
    call it after every outcome (slow; used to test the shortcut).

    >>> r = false_alarm_rate(runs=5, horizon=300, rng=np.random.default_rng(1))
    >>> r.runs, 0.0 <= r.rate <= 1.0
    (5, True)
    """
    threshold = float(assess_options.get("z_threshold", 3.0))
    min_n = float(assess_options.get("min_n", 100))
    first = np.zeros(runs, dtype=np.intp)
    for run in range(runs):
        p = confidence(rng, horizon)
        y = (rng.random(horizon) < p).astype(np.float64)
        if exhaustive:
            steps = np.arange(1, horizon + 1)
        else:
            steps = _candidate_steps(p, y, threshold=threshold, min_n=min_n)
        stats = CalibrationStats.empty(n_bins)
        done = 0
        for t in steps.tolist():
            stats.add_many(p[done:t], y[done:t])
            done = t
            if assess(stats, **assess_options).is_actionable:
                first[run] = t
                break
    alarms = int(np.count_nonzero(first))
    return FalseAlarmRate(alarms / runs, alarms, runs, horizon, first)


def _candidate_steps(
    p: NDArray[np.float64], y: NDArray[np.float64], *, threshold: float, min_n: float
) -> NDArray[np.intp]:
    """Outcome counts where |z_OE| or |Spiegelhalter Z| is within 1e-6 of the threshold."""
    d = 1.0 - 2.0 * p
    cum_e = np.cumsum(p)
    cum_o = np.cumsum(y)
    cum_var = np.cumsum(p * (1.0 - p))
    cum_num = np.cumsum((y - p) * d)
    cum_svar = np.cumsum(d * d * p * (1.0 - p))
    with np.errstate(divide="ignore", invalid="ignore"):
        z_oe = np.abs(cum_o - cum_e) / np.sqrt(cum_var)
        z_sp = np.abs(cum_num) / np.sqrt(cum_svar)
    n = np.arange(1, p.size + 1)
    hit = (n >= min_n) & ((z_oe >= threshold - 1e-6) | (z_sp >= threshold - 1e-6))
    return n[hit]


# -- Alert rules on simulated daily series (bench/alert_quality.py) ---------------------------

# The demo's week (backend/demo/simulation.py), Monday first: action days (weekends at 10 % and
# 6 % of a weekday) and the reply logit's weekday effects.
WEEKDAY_VOLUME = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.10, 0.06])
WEEKDAY_LOGIT = np.array([-0.05, 0.10, 0.10, 0.0, -0.15, -0.50, -0.50])
_HERMITE_NODES, _HERMITE_WEIGHTS = np.polynomial.hermite_e.hermegauss(48)

SeriesRuleKind = Literal["threshold", "anomaly", "drift", "calibration_error"]


def weekday_of(days: NDArray[np.datetime64]) -> NDArray[np.intp]:
    """Monday 0 ... Sunday 6 (1970-01-01 was a Thursday)."""
    return ((days.astype(np.int64) + 3) % 7).astype(np.intp)


def working_days_between(
    days: NDArray[np.datetime64], first: int, last: NDArray[np.intp]
) -> NDArray[np.intp]:
    """Monday-to-Friday days among ``days[first : last + 1]``, for each ``last``."""
    working = np.concatenate([[0], np.cumsum(weekday_of(days) < 5)])
    return (working[np.asarray(last) + 1] - working[first]).astype(np.intp)


@dataclass(frozen=True)
class Traffic:
    """A scope's e-mails: ``mean_trials`` a calendar day on average, spread over the week as
    the demo's actions are; each e-mail's confidence logit-normal around its weekday's level
    (the demo's weekday effects) with standard deviation ``spread``, ``mean_rate`` on average
    over the week's e-mails."""

    mean_trials: float
    mean_rate: float = 0.115
    spread: float = 0.6

    def weekday_trials(self) -> NDArray[np.float64]:
        """Mean e-mails of each weekday, Monday first."""
        return self.mean_trials * 7.0 * WEEKDAY_VOLUME / WEEKDAY_VOLUME.sum()

    def weekday_logits(self) -> NDArray[np.float64]:
        """Centre of each weekday's confidence logits, solved (bisection) so that the week's
        e-mails average ``mean_rate``."""
        share = WEEKDAY_VOLUME / WEEKDAY_VOLUME.sum()
        low, high = -20.0, 20.0
        for _ in range(80):
            middle = (low + high) / 2.0
            if float(share @ self.mean_confidence(middle + WEEKDAY_LOGIT)) < self.mean_rate:
                low = middle
            else:
                high = middle
        return (low + high) / 2.0 + WEEKDAY_LOGIT

    def mean_confidence(self, centre: NDArray[np.float64]) -> NDArray[np.float64]:
        """E[sigmoid(centre + spread Z)] by Gauss-Hermite quadrature."""
        logits = centre[:, None] + self.spread * _HERMITE_NODES[None, :]
        mean: NDArray[np.float64] = (1.0 / (1.0 + np.exp(-logits))) @ _HERMITE_WEIGHTS
        return mean / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class SimulatedDays:
    """Daily e-mail reply outcomes: ``trials`` and ``successes`` per day, and the day's
    calibration statistics (``STAT_FIELDS`` sums per confidence bin, shape
    ``(days, 10, n_bins)``)."""

    days: NDArray[np.datetime64]
    trials: NDArray[np.int64]
    successes: NDArray[np.int64]
    calibration: NDArray[np.float64]


def simulate_days(
    rng: np.random.Generator,
    traffic: Traffic,
    *,
    start: np.datetime64,
    reply_factor: NDArray[np.float64],
    confidence_factor: NDArray[np.float64] | None = None,
    n_bins: int = 20,
) -> SimulatedDays:
    """One day per entry of ``reply_factor`` from ``start``: Poisson e-mails a day, each with
    a calibrated confidence ``p``, a reply with probability ``p * reply_factor[day]`` and the
    stated confidence ``p * confidence_factor[day]`` (both 1: a calibrated agent; equal: the
    replies change and the agent knows).

    >>> s = simulate_days(np.random.default_rng(1), Traffic(80.0),
    ...                   start=np.datetime64("2024-01-01"), reply_factor=np.ones(14))
    >>> s.trials.size, bool(s.trials[5] < s.trials[0]), s.calibration.shape
    (14, True, (14, 10, 20))
    """
    truth = np.asarray(reply_factor, dtype=np.float64)
    stated = np.ones_like(truth) if confidence_factor is None else np.asarray(confidence_factor)
    if stated.shape != truth.shape:
        raise ValueError("confidence_factor must have the shape of reply_factor")
    days = start + np.arange(truth.size)
    weekday = weekday_of(days)
    trials = rng.poisson(traffic.weekday_trials()[weekday])
    centre = np.repeat(traffic.weekday_logits()[weekday], trials)
    base = 1.0 / (1.0 + np.exp(-(centre + traffic.spread * rng.standard_normal(centre.size))))
    y = (rng.random(base.size) < np.minimum(base * np.repeat(truth, trials), 1.0)).astype(float)
    p = np.minimum(base * np.repeat(stated, trials), 1.0)
    ends = np.cumsum(trials)[:-1]
    calibration = np.stack(
        [
            batch_sums(day_p, day_y, n_bins=n_bins)
            for day_p, day_y in zip(np.split(p, ends), np.split(y, ends), strict=True)
        ]
    )
    successes = np.bincount(np.repeat(np.arange(days.size), trials), y, days.size)
    return SimulatedDays(days, trials, np.round(successes).astype(np.int64), calibration)


@dataclass(frozen=True)
class SeriesRule:
    """A rule judged on the simulated series: a threshold, anomaly or drift rule on the reply
    rate (``judge_rate_threshold`` / ``judge_findings``), or a threshold on the debiased
    calibration error of its window (``calibration_error``)."""

    name: str
    kind: SeriesRuleKind
    direction: Direction | None
    window_days: int
    threshold: float | None = None


@dataclass(frozen=True)
class RuleTrace:
    """A rule judged on each day: ``judged`` (False: too few trials), ``holds``, ``cleared``
    and ``evidence`` (index of the day its evidence ends on: the window's last day for a
    threshold, the finding's day for an anomaly or drift; -1 when it does not hold)."""

    judged: NDArray[np.bool_]
    holds: NDArray[np.bool_]
    cleared: NDArray[np.bool_]
    evidence: NDArray[np.intp]


def judge_every_day(
    series: SimulatedDays,
    rules: Sequence[SeriesRule],
    *,
    first: int,
    last: int,
    stop_once_all_held_since: int | None = None,
) -> dict[str, RuleTrace]:
    """Each rule judged as of each day ``first..last`` (indices), with the functions the
    worker uses; the detector runs once a day for every anomaly and drift rule. With
    ``stop_once_all_held_since`` the days after the one where every rule has held on evidence
    from that index on are left unjudged."""
    size = series.days.size
    traces = {
        r.name: RuleTrace(
            np.zeros(size, bool), np.zeros(size, bool), np.zeros(size, bool), np.full(size, -1)
        )
        for r in rules
    }
    pending = {r.name for r in rules}
    detected = series.days.astype(dt.date)
    for t in range(first, last + 1):
        as_of = series.days[t]
        findings = None
        for rule in rules:
            trace = traces[rule.name]
            judged: RuleJudgement | None
            if rule.kind in ("anomaly", "drift"):
                if findings is None:
                    findings = rate_findings(
                        series.days, series.trials, series.successes, as_of=as_of
                    )
                judged = judge_findings(
                    findings,
                    kind=rule.kind,
                    direction=rule.direction,
                    window_days=rule.window_days,
                    as_of=detected[t],
                )
                evidence_day = None if judged.finding is None else judged.finding.day
            else:
                judged = _judge_threshold_rule(series, rule, t)
                evidence_day = detected[t]
            if judged is None:
                continue
            trace.judged[t], trace.holds[t], trace.cleared[t] = True, judged.holds, judged.cleared
            if judged.holds and evidence_day is not None:
                trace.evidence[t] = t - (detected[t] - evidence_day).days
            if stop_once_all_held_since is not None and trace.evidence[t] >= (
                stop_once_all_held_since
            ):
                pending.discard(rule.name)
        if stop_once_all_held_since is not None and not pending:
            break
    return traces


def _judge_threshold_rule(series: SimulatedDays, rule: SeriesRule, t: int) -> RuleJudgement | None:
    assert rule.threshold is not None and rule.direction is not None
    if rule.kind == "threshold":
        return judge_rate_threshold(
            series.days[: t + 1],
            series.trials[: t + 1],
            series.successes[: t + 1],
            direction=rule.direction,
            threshold=rule.threshold,
            window_days=rule.window_days,
        )
    table = series.calibration[max(t + 1 - rule.window_days, 0) : t + 1].sum(axis=0)
    if table[0].sum() <= 0:
        return None
    error = debiased_calibration_error(CalibrationStats(table))
    return judge_threshold_value(
        error.error, error.n, direction=rule.direction, threshold=rule.threshold
    )


def alert_openings(
    judged: NDArray[np.bool_],
    holds: NDArray[np.bool_],
    cleared: NDArray[np.bool_],
    *,
    hold_days: int = 1,
) -> NDArray[np.bool_]:
    """The days an alert opens (fires) when its rule is judged once a day, moved as
    ``backend/alerts/state.py`` moves it: a holding judgement opens it, or refreshes an open
    one (its clearance forgotten); inside the hysteresis band (neither holding nor cleared)
    an open alert's clearance restarts; it resolves once cleared for ``hold_days`` days (the
    rule's ``hold_hours`` / 24: judged cleared on ``hold_days + 1`` days in a row). Days not
    judged (too few trials) change nothing.

    >>> holds = np.array([0, 1, 0, 1, 0, 0, 1], bool)  # one clear day between holds: still open
    >>> alert_openings(np.ones(7, bool), holds, ~holds).nonzero()[0].tolist()
    [1, 6]
    """
    if not judged.shape == holds.shape == cleared.shape:
        raise ValueError("judged, holds and cleared must have the same shape")
    opened = np.zeros(judged.shape, bool)
    is_open, cleared_since = False, -1
    # A state machine: each day depends on the previous one, so the loop is over days.
    for t in np.flatnonzero(judged).tolist():
        if holds[t]:
            opened[t] = not is_open
            is_open, cleared_since = True, -1
        elif not is_open:
            continue
        elif not cleared[t]:
            cleared_since = -1
        else:
            cleared_since = t if cleared_since < 0 else cleared_since
            if t - cleared_since >= hold_days:
                is_open, cleared_since = False, -1
    return opened
