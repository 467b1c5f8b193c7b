"""ROI and efficiency of the agent from aggregate counts, and agent-versus-human rate comparisons.

Every rate comes with a Wilson interval; differences of two rates with Newcombe's hybrid score
interval. Inputs are sums the backend computes in SQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analytics_engine.intervals import wilson_bounds, wilson_interval


@dataclass(frozen=True)
class RateEstimate:
    """A proportion ``successes / count`` with its Wilson interval (NaN rate when count is 0)."""

    successes: float
    count: float
    rate: float
    lower: float
    upper: float


@dataclass(frozen=True)
class RateComparison:
    """Agent versus human rate: each with its interval, and the difference ``agent - human``.

    ``difference_lower``/``difference_upper`` are Newcombe's hybrid score interval (method 10);
    ``p_value`` is the two-sided pooled two-proportion z-test. When either count is 0 the
    difference and ``p_value`` are NaN and the interval is [-1, 1].
    """

    agent: RateEstimate
    human: RateEstimate
    difference: float
    difference_lower: float
    difference_upper: float
    p_value: float


@dataclass(frozen=True)
class RoiSummary:
    """Cost, escalation and time-saving figures of one scope (an agent, a team, the org).

    ``automated_tasks`` are interactions not escalated to a human; ``hours_saved`` is the human
    time they would have taken; ``roi`` is ``(value_of_time_saved - total_cost) / total_cost``
    and is NaN when ``total_cost`` is 0 (the ratio is undefined; ``net_value`` still says it).
    ``cost_per_interaction`` is NaN when there were no interactions.
    """

    interactions: float
    escalations: float
    automated_tasks: float
    total_cost: float
    cost_per_interaction: float
    escalation: RateEstimate
    hours_saved: float
    value_of_time_saved: float
    net_value: float
    roi: float


def _non_negative(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def rate_estimate(successes: float, count: float, *, alpha: float = 0.05) -> RateEstimate:
    """``successes / count`` with the Wilson (1927) score interval.

    >>> r = rate_estimate(8, 10)
    >>> r.rate, round(r.lower, 4), round(r.upper, 4)
    (0.8, 0.4902, 0.9433)
    """
    x = _non_negative("successes", successes)
    n = _non_negative("count", count)
    if x > n:
        raise ValueError(f"successes ({x:g}) exceeds count ({n:g})")
    return RateEstimate(x, n, *wilson_bounds(x, n, alpha=alpha))


def newcombe_difference_interval(
    successes_1: ArrayLike,
    count_1: ArrayLike,
    successes_2: ArrayLike,
    count_2: ArrayLike,
    *,
    alpha: float = 0.05,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Interval for ``p1 - p2`` by Newcombe's hybrid score method (Newcombe 1998, method 10).

    With Wilson intervals ``(l1, u1)`` and ``(l2, u2)`` and ``d = p1 - p2``:
    ``lower = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)``,
    ``upper = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)``.
    Matches ``statsmodels`` ``confint_proportions_2indep(method="newcomb")``. Where a count is 0
    the interval is [-1, 1]. Vectorised over arrays of one shape.

    Newcombe (1998), Statistics in Medicine 17:873-890, Table II example (a), 56/70 vs 48/80:

    >>> lower, upper = newcombe_difference_interval([56], [70], [48], [80])
    >>> round(float(lower[0]), 4), round(float(upper[0]), 4)
    (0.0524, 0.3339)
    """
    ci1 = wilson_interval(successes_1, count_1, alpha=alpha)
    ci2 = wilson_interval(successes_2, count_2, alpha=alpha)
    if ci1.estimate.shape != ci2.estimate.shape:
        raise ValueError("successes_1 and successes_2 have different shapes")
    p1, p2 = ci1.estimate, ci2.estimate
    with np.errstate(invalid="ignore"):
        d = p1 - p2
        lower = d - np.sqrt((p1 - ci1.lower) ** 2 + (ci2.upper - p2) ** 2)
        upper = d + np.sqrt((ci1.upper - p1) ** 2 + (p2 - ci2.lower) ** 2)
    undefined = np.isnan(d)
    # clipped: rounding in the Wilson ends can push an end a hair past +-1
    lower = np.clip(np.where(undefined, -1.0, lower), -1.0, 1.0)
    return lower, np.clip(np.where(undefined, 1.0, upper), -1.0, 1.0)


def _newcombe_bounds(agent: RateEstimate, human: RateEstimate) -> tuple[float, float]:
    """``newcombe_difference_interval`` of two rates already estimated with their Wilson
    intervals, in plain floats: the same operations in the same order (numpy's ``** 2`` is
    ``x * x``), so the same bits."""
    d = agent.rate - human.rate
    if math.isnan(d):
        return -1.0, 1.0
    a_low, h_high = agent.rate - agent.lower, human.upper - human.rate
    a_high, h_low = agent.upper - agent.rate, human.rate - human.lower
    lower = d - math.sqrt(a_low * a_low + h_high * h_high)
    upper = d + math.sqrt(a_high * a_high + h_low * h_low)
    return min(max(lower, -1.0), 1.0), min(max(upper, -1.0), 1.0)


def _pooled_z_p_value(x1: float, n1: float, x2: float, n2: float) -> float:
    """Two-sided pooled two-proportion z-test (``statsmodels`` ``proportions_ztest``)."""
    if n1 == 0 or n2 == 0:
        return math.nan
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance == 0:
        return 1.0  # both groups all successes or all failures: no evidence of a difference
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))  # scipy.stats.norm.sf(|z|) · 2


def compare_rates(
    agent_successes: float,
    agent_count: float,
    human_successes: float,
    human_count: float,
    *,
    alpha: float = 0.05,
) -> RateComparison:
    """Compare the agent's rate (response, conversion, ...) with the human baseline's.

    >>> c = compare_rates(56, 70, 48, 80)
    >>> round(c.difference, 3), round(c.difference_lower, 4), round(c.difference_upper, 4)
    (0.2, 0.0524, 0.3339)
    """
    agent = rate_estimate(agent_successes, agent_count, alpha=alpha)
    human = rate_estimate(human_successes, human_count, alpha=alpha)
    lower, upper = _newcombe_bounds(agent, human)
    return RateComparison(
        agent=agent,
        human=human,
        difference=agent.rate - human.rate,
        difference_lower=lower,
        difference_upper=upper,
        p_value=_pooled_z_p_value(agent.successes, agent.count, human.successes, human.count),
    )


def roi_summary(
    *,
    interactions: float,
    escalations: float,
    total_cost: float,
    human_minutes_per_task: float,
    human_hourly_cost: float,
    alpha: float = 0.05,
) -> RoiSummary:
    """Cost per interaction, escalation rate and ROI of the agent against a human baseline.

    ``hours_saved = human_minutes_per_task * (interactions - escalations) / 60``;
    ``value_of_time_saved = hours_saved * human_hourly_cost`` (loaded cost: salary, benefits,
    overhead); ``roi = (value_of_time_saved - total_cost) / total_cost`` (the standard ROI ratio,
    e.g. Phillips, *Return on Investment in Training and Performance Improvement Programs*, 2003).

    >>> s = roi_summary(interactions=1000, escalations=100, total_cost=500.0,
    ...                 human_minutes_per_task=6.0, human_hourly_cost=50.0)
    >>> s.cost_per_interaction, s.hours_saved, s.value_of_time_saved, s.roi
    (0.5, 90.0, 4500.0, 8.0)
    """
    n = _non_negative("interactions", interactions)
    escalated = _non_negative("escalations", escalations)
    if escalated > n:
        raise ValueError(f"escalations ({escalated:g}) exceeds interactions ({n:g})")
    cost = _non_negative("total_cost", total_cost)
    minutes = _non_negative("human_minutes_per_task", human_minutes_per_task)
    hourly = _non_negative("human_hourly_cost", human_hourly_cost)
    automated = n - escalated
    hours_saved = minutes * automated / 60.0
    value = hours_saved * hourly
    return RoiSummary(
        interactions=n,
        escalations=escalated,
        automated_tasks=automated,
        total_cost=cost,
        cost_per_interaction=cost / n if n > 0 else math.nan,
        escalation=rate_estimate(escalated, n, alpha=alpha),
        hours_saved=hours_saved,
        value_of_time_saved=value,
        net_value=value - cost,
        roi=(value - cost) / cost if cost > 0 else math.nan,
    )
