"""ROI and efficiency of the agent from aggregate counts, and agent-versus-human rate comparisons.

Every rate comes with a Wilson interval; differences of two rates with Newcombe's hybrid score
interval. Inputs are sums the backend computes in SQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

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


@dataclass(frozen=True)
class Span:
    """An assumption's range: ``low <= expected <= high`` (all finite, >= 0)."""

    low: float
    expected: float
    high: float

    def __post_init__(self) -> None:
        for name in ("low", "expected", "high"):
            _non_negative(name, getattr(self, name))
        if not self.low <= self.expected <= self.high:
            raise ValueError(
                f"need low <= expected <= high, got {self.low:g}, {self.expected:g}, {self.high:g}"
            )

    @classmethod
    def exactly(cls, value: float) -> Span:
        return cls(value, value, value)


@dataclass(frozen=True)
class TaskWork:
    """One action type's work in the scope.

    ``redone``: actions not escalated that a person judged wrong (and so redid): they save no
    time. ``lift``: the agent's success rate minus the human baseline's on this type's decided
    outcomes, as (lower, point, upper) of its interval, over ``decided`` outcomes; None without
    a human baseline (no incremental outcomes are claimed).
    """

    action_type: str
    actions: float
    escalations: float
    redone: float
    minutes_per_task: Span
    decided: float = 0.0
    lift: tuple[float, float, float] | None = None
    value_per_success: Span = Span(0.0, 0.0, 0.0)


@dataclass(frozen=True)
class HumanWorkCaused:
    """What the agent made people do, in counts: handle escalations, answer prompts, review
    threads, label ambiguous outcomes."""

    escalations: float = 0.0
    prompts: float = 0.0
    reviews: float = 0.0
    labels: float = 0.0


@dataclass(frozen=True)
class HumanMinutes:
    """Minutes of a person's time per escalation, prompt answered, review, label."""

    escalation: Span
    prompt: Span
    review: Span
    label: Span


@dataclass(frozen=True)
class RoiCase:
    """One scenario of the ROI. Money in the scope's currency, hours of people's time.

    ``hours_saved`` is ``min(hours_saved_uncapped, capacity_hours)``: the agent cannot save more
    than the people in scope work (``capped`` says it did bind). ``roi`` is
    ``net_value / total_cost`` (NaN when the cost is 0).
    """

    hours_saved_uncapped: float
    capacity_hours: float
    hours_saved: float
    capped: bool
    hourly_cost: float
    value_of_time_saved: float
    incremental_successes: float
    incremental_value: float
    human_hours_caused: float
    cost_of_human_time: float
    agent_cost: float
    platform_cost: float
    total_cost: float
    net_value: float
    roi: float


@dataclass(frozen=True)
class RoiRange:
    """The ROI at the low, expected and high ends of its assumptions and of the lift's interval:
    ``low`` takes every assumption and the lift at the end that lowers the net value (so it is
    the least the scope's figures and assumptions support), ``high`` the end that raises it."""

    low: RoiCase
    expected: RoiCase
    high: RoiCase


def _roi_case(
    tasks: Sequence[TaskWork],
    caused: HumanWorkCaused,
    *,
    end: int,
    agent_cost: float,
    hourly_cost: Span,
    platform_cost_per_action: Span,
    minutes: HumanMinutes,
    working_hours_per_week: Span,
    people: float,
    days: float,
) -> RoiCase:
    """``end``: -1 for the low case, 0 expected, +1 high (see ``RoiRange``)."""

    def pick(span: Span, raises_net: bool) -> float:
        if end == 0:
            return span.expected
        return span.high if (end > 0) == raises_net else span.low

    saved_minutes, successes, value = 0.0, 0.0, 0.0
    actions = 0.0
    for t in tasks:
        actions += t.actions
        completed = max(t.actions - t.escalations - t.redone, 0.0)
        saved_minutes += pick(t.minutes_per_task, True) * completed
        if t.lift is not None:
            lift = t.lift[1 + end]
            more = lift * t.decided
            successes += more
            value += more * pick(t.value_per_success, more >= 0)
    capacity = pick(working_hours_per_week, True) * people * days / 7.0
    uncapped = saved_minutes / 60.0
    hours_saved = min(uncapped, capacity)
    caused_hours = (
        caused.escalations * pick(minutes.escalation, False)
        + caused.prompts * pick(minutes.prompt, False)
        + caused.reviews * pick(minutes.review, False)
        + caused.labels * pick(minutes.label, False)
    ) / 60.0
    # the hourly cost multiplies (hours saved - hours caused): its end follows that sign
    hourly = pick(hourly_cost, hours_saved >= caused_hours)
    platform = pick(platform_cost_per_action, False) * actions
    human_cost = caused_hours * hourly
    total = agent_cost + platform + human_cost
    time_value = hours_saved * hourly
    net = time_value + value - total
    return RoiCase(
        hours_saved_uncapped=uncapped,
        capacity_hours=capacity,
        hours_saved=hours_saved,
        capped=uncapped > capacity,
        hourly_cost=hourly,
        value_of_time_saved=time_value,
        incremental_successes=successes,
        incremental_value=value,
        human_hours_caused=caused_hours,
        cost_of_human_time=human_cost,
        agent_cost=agent_cost,
        platform_cost=platform,
        total_cost=total,
        net_value=net,
        roi=net / total if total > 0 else math.nan,
    )


def roi_range(
    tasks: Sequence[TaskWork],
    caused: HumanWorkCaused,
    *,
    agent_cost: float,
    hourly_cost: Span,
    platform_cost_per_action: Span,
    minutes: HumanMinutes,
    working_hours_per_week: Span,
    people: float,
    days: float,
) -> RoiRange:
    """The agent's ROI over a scope and period, at the low, expected and high ends.

    Value: the time of the work the agent completed (not escalated, not redone by a person) at
    the minutes a person takes per task, bounded by the hours the ``people`` in scope work in
    ``days`` (``working_hours_per_week``), valued at the loaded hourly cost; plus the outcomes
    the agent won over the human baseline (``lift x decided``) at their value per success.
    Cost: the agent's own (tokens: ``agent_cost``), the platform's per action, and the people's
    time the agent caused (escalations handled, prompts answered, threads reviewed, outcomes
    labelled) at the same hourly cost. ``roi = (value - cost) / cost`` (Phillips 2003).

    Hand-worked: 100 e-mails, 10 escalated, 5 redone, 6 min each -> 85 x 6 / 60 = 8.5 h saved
    at 50/h = 425; 10 escalations x 12 min = 2 h caused = 100; tokens 20 + 0.1 x 100 platform:
    cost 130, net 295, ROI 2.27. No baseline lift, capacity 1 person x 40 h/week x 7 days.

    >>> r = roi_range(
    ...     [TaskWork("email", 100, 10, 5, Span.exactly(6))],
    ...     HumanWorkCaused(escalations=10),
    ...     agent_cost=20.0, hourly_cost=Span.exactly(50),
    ...     platform_cost_per_action=Span.exactly(0.1),
    ...     minutes=HumanMinutes(*(Span.exactly(12),) + (Span.exactly(0),) * 3),
    ...     working_hours_per_week=Span.exactly(40), people=1, days=7)
    >>> e = r.expected
    >>> e.hours_saved, e.human_hours_caused, e.total_cost, e.net_value, round(e.roi, 2)
    (8.5, 2.0, 130.0, 295.0, 2.27)
    """
    for name, value in (("agent_cost", agent_cost), ("people", people), ("days", days)):
        _non_negative(name, value)
    for t in tasks:
        for name in ("actions", "escalations", "redone", "decided"):
            _non_negative(f"{t.action_type}.{name}", getattr(t, name))
        if t.lift is not None and not t.lift[0] <= t.lift[1] <= t.lift[2]:
            raise ValueError(f"{t.action_type}.lift must be (lower, point, upper), got {t.lift}")
    case = partial(
        _roi_case,
        tasks,
        caused,
        agent_cost=float(agent_cost),
        hourly_cost=hourly_cost,
        platform_cost_per_action=platform_cost_per_action,
        minutes=minutes,
        working_hours_per_week=working_hours_per_week,
        people=float(people),
        days=float(days),
    )
    return RoiRange(case(end=-1), case(end=0), case(end=1))
