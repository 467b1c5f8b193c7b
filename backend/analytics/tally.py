"""Dashboard metrics from the repository's sums: additive tallies per agent or team, and the
figures each audience reads (rates with intervals, ROI against the human baseline, calibration).

Pure computation over numbers already summed in SQL; the engine (``analytics_engine.roi``,
``analytics_engine.calibration``, ``analytics_engine.verdict``) does the statistics.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import numpy as np

from analytics_engine.calibration import (
    STAT_FIELDS,
    CalibrationStats,
    brier_decomposition,
    debiased_calibration_error,
)
from analytics_engine.roi import (
    HumanMinutes,
    HumanWorkCaused,
    RateComparison,
    Span,
    TaskWork,
    compare_rates,
    rate_estimate,
    roi_range,
)
from analytics_engine.verdict import MIN_OUTCOMES, VerdictKind, assess
from backend.analytics.metrics import (
    ATTENDANCE_OUTCOME,
    MEETING_ACTION,
    REPLY_OUTCOME,
    ActionTypeActivity,
    ActionTypeRate,
    ActionTypeRoi,
    CalibrationAccuracy,
    Costs,
    DealImpact,
    Escalations,
    FeedbackByTarget,
    FeedbackScores,
    Metrics,
    Money,
    MoneyTotal,
    Responses,
    Roi,
    TrendPoint,
)
from backend.baselines.models import HumanBaseline
from backend.calibration.models import CALIBRATION_BINS
from backend.feedback.models import FeedbackTarget
from backend.outcomes.rules import OutcomeRules
from backend.roi.assumptions import Assumption, Assumptions
from backend.roi.models import EVERY_ACTION_TYPE, AssumptionName


def _zeros() -> np.ndarray:
    return np.zeros((len(STAT_FIELDS), CALIBRATION_BINS))


_Key = TypeVar("_Key")
_Number = TypeVar("_Number", int, float)


def _add_cells(target: dict[_Key, list[_Number]], source: Mapping[_Key, list[_Number]]) -> None:
    """``target[k] += source[k]`` element-wise, for every key of ``source``."""
    for k, values in source.items():
        target[k] = [a + b for a, b in zip(target[k], values, strict=True)]


@dataclass
class Tally:
    """Additive sums of one agent or team (or, merged, of a whole scope)."""

    actions: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 4))
    cost: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    type_cost: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    # (action type, outcome type) -> [resolved, successes, pending] on matured days, and the
    # outcomes of days still maturing (decided early or not), which no rate counts
    outcomes: dict[tuple[str, str], list[float]] = field(
        default_factory=lambda: defaultdict(lambda: [0.0] * 4)
    )
    deals: list[int] = field(default_factory=lambda: [0, 0, 0])
    amount_won: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    feedback: dict[str, list[float]] = field(default_factory=lambda: defaultdict(lambda: [0.0] * 3))
    calibration: dict[tuple[str, bool], np.ndarray] = field(
        default_factory=lambda: defaultdict(_zeros)
    )
    # action type -> ratings given in range that judged its work wrong: work a person redid
    redone: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    labels: float = 0.0  # outcomes a person labelled
    people: int = 0  # active agents, one per rep: whose working hours bound the time saved

    def merge(self, other: Tally) -> Tally:
        _add_cells(self.actions, other.actions)
        _add_cells(self.outcomes, other.outcomes)
        _add_cells(self.feedback, other.feedback)
        for target_sum, source_sum in (
            (self.cost, other.cost),
            (self.amount_won, other.amount_won),
            (self.redone, other.redone),
        ):
            for k, amount in source_sum.items():
                target_sum[k] += amount
        for cell, amount in other.type_cost.items():
            self.type_cost[cell] += amount
        for cell_key, table in other.calibration.items():
            self.calibration[cell_key] = self.calibration[cell_key] + table
        self.deals = [a + b for a, b in zip(self.deals, other.deals, strict=True)]
        self.labels += other.labels
        self.people += other.people
        return self


def tallies(rows: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[int, Tally]:
    """Per-key tallies from the repository's rows (by family name)."""
    out: dict[int, Tally] = defaultdict(Tally)
    for r in rows["actions"]:
        t = out[r["key"]]
        cell = t.actions[r["action_type"]]
        for i, name in enumerate(("actions", "escalations", "critical", "tokens")):
            cell[i] += int(r[name] or 0)
        t.cost[r["currency"]] += float(r["cost"] or 0)
        t.type_cost[(r["action_type"], r["currency"])] += float(r["cost"] or 0)
    for r in rows["outcomes"]:
        sums = out[r["key"]].outcomes[(r["action_type"], r["outcome_type"])]
        if r["matured"]:
            for i, name in enumerate(("resolved", "successes", "pending")):
                sums[i] += float(r[name] or 0)
        else:
            sums[3] += float(r["resolved"] or 0) + float(r["pending"] or 0)
    for r in rows["deal_counts"]:
        t = out[r["key"]]
        t.deals = [
            t.deals[0] + int(r["progressed"] or 0),
            t.deals[1] + int(r["won"] or 0),
            t.deals[2] + int(r["lost"] or 0),
        ]
    for r in rows["deal_amounts"]:
        out[r["key"]].amount_won[r["currency"]] += float(r["amount_won"] or 0)
    for r in rows["feedback"]:
        sums = out[r["key"]].feedback[r["target_type"]]
        for i, name in enumerate(("count", "rating_sum", "prompted")):
            sums[i] += float(r[name] or 0)
    for r in rows["calibration"]:
        table = out[r["key"]].calibration[(r["action_type"], bool(r["matured"]))]
        table[:, int(r["bin"])] += [float(r[n] or 0) for n in STAT_FIELDS]
    for r in rows["redone"]:
        out[r["key"]].redone[r["action_type"]] += float(r["redone"] or 0)
    for r in rows["labels"]:
        out[r["key"]].labels += float(r["labels"] or 0)
    for r in rows["people"]:
        out[r["key"]].people += int(r["people"] or 0)
    return out


def merged(parts: Iterable[Tally]) -> Tally:
    total = Tally()
    for part in parts:
        total.merge(part)
    return total


def _money_total(amounts: Mapping[str, float], currency: str) -> MoneyTotal:
    others = tuple(Money(a, c) for c, a in sorted(amounts.items()) if c != currency and a != 0)
    return MoneyTotal(Money(float(amounts.get(currency, 0.0)), currency), others)


def _pooled_human(baselines: Iterable[HumanBaseline]) -> tuple[float, float]:
    """Human successes and count pooled over teams (each team's sample counted once)."""
    rows = list(baselines)
    return (
        sum(b.response_rate * b.sample_size for b in rows),
        float(sum(b.sample_size for b in rows)),
    )


def _versus(successes: float, count: float, human: tuple[float, float]) -> RateComparison | None:
    return compare_rates(successes, count, *human) if human[1] > 0 else None


def _calibration(
    tally: Tally, matured_by: Callable[[str], dt.date]
) -> tuple[CalibrationAccuracy, ...]:
    """Per action type; ``matured_by(t)``: when the range's days still maturing for ``t`` will
    all have matured. Too few matured outcomes beside maturing ones is said plainly, with the
    date a verdict can be expected (never "no outcomes" beside hundreds)."""
    out = []
    for action_type in sorted({t for t, _ in tally.calibration}):
        matured = CalibrationStats(tally.calibration.get((action_type, True), _zeros()))
        stats = matured + CalibrationStats(tally.calibration.get((action_type, False), _zeros()))
        n = stats.n
        if n <= 0:
            continue
        verdict = assess(matured)
        reason, expected_by = verdict.reason, None
        maturing = n - matured.n
        if verdict.kind is VerdictKind.INSUFFICIENT_DATA and maturing > 0:
            reason = (
                f"{maturing:g} outcomes are still maturing (decided early, their windows still "
                f"open) beside {matured.n:g} matured; a verdict needs {MIN_OUTCOMES:g} matured"
            )
            if n >= MIN_OUTCOMES:
                expected_by = matured_by(action_type)
                reason += (
                    f": one by {expected_by.isoformat()} at the latest, when all have matured."
                )
            else:
                reason += ": not enough even once these mature."
        out.append(
            CalibrationAccuracy(
                action_type=action_type,
                outcomes=n,
                brier=brier_decomposition(stats).brier,
                debiased_error=debiased_calibration_error(stats).error,
                mean_confidence=float(stats.sum_p.sum()) / n,
                observed_rate=float(stats.sum_y.sum()) / n,
                matured_outcomes=matured.n,
                verdict=verdict.kind.value,
                verdict_reason=reason,
                maturing_outcomes=maturing,
                verdict_expected_by=expected_by,
            )
        )
    return tuple(out)


def _feedback(tally: Tally) -> FeedbackScores:
    by_target, scored, count, prompted = [], 0.0, 0, 0
    for target in sorted(tally.feedback):
        n, ratings, asked = tally.feedback[target]
        thumbs = target == FeedbackTarget.MESSAGE.value
        score_sum = ratings if thumbs else (ratings - n) / 4
        by_target.append(
            FeedbackByTarget(
                target,
                int(n),
                ratings / n if n else float("nan"),
                score_sum / n if n else float("nan"),
            )
        )
        scored, count, prompted = scored + score_sum, count + int(n), prompted + int(asked)
    thumbs_n, thumbs_up, _ = tally.feedback.get(FeedbackTarget.MESSAGE.value, [0.0, 0.0, 0.0])
    return FeedbackScores(
        count,
        prompted,
        rate_estimate(thumbs_up, thumbs_n),
        scored / count if count else float("nan"),
        tuple(by_target),
    )


def _mean(values: Iterable[float]) -> float | None:
    listed = list(values)
    return float(np.mean(listed)) if listed else None


def _roi(
    tally: Tally,
    rates: Iterable[ActionTypeRate],
    *,
    baselines: Mapping[str, list[HumanBaseline]],
    assumptions: Assumptions,
    currency: str,
    days: int,
) -> Roi:
    """The ROI at its low / expected / high ends, with every assumption it used and where each
    comes from (set by someone, the human baseline, or a default)."""
    types = sorted(tally.actions)
    lifts = {r.action_type: r for r in rates}
    used: dict[tuple[str, str], Assumption] = {}

    def assume(name: AssumptionName, action_type: str = EVERY_ACTION_TYPE, **kw: Any) -> Span:
        found = assumptions.resolve(name, action_type, **kw)
        used[(found.name, found.action_type)] = found
        return found.span

    hourly_baselines = [float(b.loaded_hourly_cost) for rows in baselines.values() for b in rows]
    hourly = assume(AssumptionName.LOADED_HOURLY_COST, baseline=_mean(hourly_baselines))
    tasks, without_minutes = [], []
    for t in types:
        actions, escalations, _critical, _tokens = tally.actions[t]
        minutes = assume(
            AssumptionName.MINUTES_PER_TASK,
            t,
            baseline=_mean(b.minutes_per_task for b in baselines.get(t, [])),
        )
        if minutes.high == 0:
            without_minutes.append(t)
        rate = lifts.get(t)
        comparison = rate.versus_human if rate is not None else None
        lift = None
        if comparison is not None and not np.isnan(comparison.difference):
            lift = (
                comparison.difference_lower,
                comparison.difference,
                comparison.difference_upper,
            )
        tasks.append(
            TaskWork(
                t,
                actions,
                escalations,
                min(tally.redone.get(t, 0.0), actions - escalations),
                minutes,
                decided=float(rate.resolved) if rate is not None else 0.0,
                lift=lift,
                value_per_success=assume(AssumptionName.VALUE_PER_SUCCESS, t)
                if lift is not None
                else Span(0, 0, 0),
            )
        )
    escalated = sum(t.escalations for t in tasks)
    caused = HumanWorkCaused(
        escalations=escalated,
        prompts=sum(cell[2] for cell in tally.feedback.values()),
        reviews=tally.feedback.get(FeedbackTarget.CONVERSATION.value, [0.0, 0.0, 0.0])[0],
        labels=tally.labels,
    )
    common = partial(
        roi_range,
        hourly_cost=hourly,
        platform_cost_per_action=assume(AssumptionName.PLATFORM_COST_PER_ACTION),
        minutes=HumanMinutes(
            assume(AssumptionName.MINUTES_PER_ESCALATION),
            assume(AssumptionName.MINUTES_PER_PROMPT),
            assume(AssumptionName.MINUTES_PER_REVIEW),
            assume(AssumptionName.MINUTES_PER_LABEL),
        ),
        working_hours_per_week=assume(AssumptionName.WORKING_HOURS_PER_WEEK),
        people=tally.people,
        days=days,
    )
    foreign = sorted(
        {c for c, a in tally.cost.items() if a and c != currency}
        | {b.currency for rows in baselines.values() for b in rows if b.currency != currency}
    )
    money = not foreign
    token_cost = tally.cost.get(currency, 0.0)
    overall = common(tasks, caused, agent_cost=token_cost)
    by_type = tuple(
        ActionTypeRoi(
            t.action_type,
            common(
                [t],
                HumanWorkCaused(escalations=t.escalations),
                agent_cost=tally.type_cost.get((t.action_type, currency), 0.0),
            ),
        )
        for t in tasks
    )
    notes = []
    if not money:
        notes.append(
            f"amounts in {', '.join(foreign)} are not converted to {currency}: money figures "
            "and ROI are not computed"
        )
    if without_minutes:
        notes.append(
            f"no minutes per task for {', '.join(without_minutes)} (no human baseline and none "
            "set): those actions save no time in this estimate"
        )
    if overall.expected.capped:
        notes.append(
            "the time saved is capped at the working hours of the people in scope "
            f"({overall.expected.capacity_hours:,.0f} h)"
        )
    interactions = int(sum(t.actions for t in tasks))
    return Roi(
        range=overall,
        interactions=interactions,
        escalations=int(escalated),
        redone=int(sum(t.redone for t in tasks)),
        with_minutes=int(sum(t.actions for t in tasks if t.minutes_per_task.high > 0)),
        caused=caused,
        escalation=rate_estimate(escalated, interactions),
        currency=currency,
        money_available=money,
        assumptions=tuple(used[k] for k in sorted(used)),
        by_action_type=by_type,
        note="; ".join(notes) or None,
    )


def metrics_of(
    tally: Tally,
    *,
    baselines: Mapping[str, list[HumanBaseline]],
    assumptions: Assumptions,
    currency: str,
    days: int,
    rules: OutcomeRules,
    matured_by: Callable[[str], dt.date],
) -> Metrics:
    """The dashboard figures of a tally; ``baselines`` are the human baselines of the teams in
    scope per action type (pooled when several teams are in scope)."""
    types = sorted(tally.actions)
    interactions = sum(tally.actions[t][0] for t in types)
    escalated = sum(tally.actions[t][1] for t in types)
    critical = sum(tally.actions[t][2] for t in types)
    tokens = sum(tally.actions[t][3] for t in types)

    def outcome(action_types: Iterable[str], outcome_type: str) -> list[float]:
        cells = [tally.outcomes.get((t, outcome_type), [0.0] * 4) for t in action_types]
        return [sum(c[i] for c in cells) for i in range(4)]

    email_types = [t for t in types if rules.calibrating_plan(t).outcome_type == REPLY_OUTCOME]
    resolved, replies, pending, maturing = outcome(email_types, REPLY_OUTCOME)
    human_reply = _pooled_human(b for t in email_types for b in baselines.get(t, []))
    attended = outcome([MEETING_ACTION], ATTENDANCE_OUTCOME)
    responses = Responses(
        emails=sum(tally.actions[t][0] for t in email_types),
        replies=rate_estimate(replies, resolved),
        pending_replies=int(pending),
        maturing_replies=int(maturing),
        versus_human=_versus(replies, resolved, human_reply),
        meetings_booked=tally.actions[MEETING_ACTION][0] if MEETING_ACTION in tally.actions else 0,
        attendance=rate_estimate(attended[1], attended[0]),
        pending_attendance=int(attended[2]),
        maturing_attendance=int(attended[3]),
    )
    rates = []
    for t in types:
        outcome_type = rules.calibrating_plan(t).outcome_type
        done, successes, open_, maturing_ = outcome([t], outcome_type)
        team_rows = baselines.get(t, [])
        rates.append(
            ActionTypeRate(
                t,
                outcome_type,
                int(done),
                int(open_),
                int(maturing_),
                rate_estimate(successes, done),
                _versus(successes, done, _pooled_human(team_rows)),
                float(np.mean([b.conversion_rate for b in team_rows])) if team_rows else None,
                float(np.mean([b.minutes_per_task for b in team_rows])) if team_rows else None,
            )
        )
    progressed, won, lost = tally.deals
    costs = _money_total(tally.cost, currency)
    return Metrics(
        interactions=interactions,
        actions_by_type=tuple(ActionTypeActivity(t, *tally.actions[t]) for t in types),
        escalations=Escalations(escalated, rate_estimate(escalated, interactions), critical),
        responses=responses,
        rates_by_action_type=tuple(rates),
        deal_impact=DealImpact(
            progressed,
            won,
            lost,
            rate_estimate(won, won + lost),
            _money_total(tally.amount_won, currency),
        ),
        feedback=_feedback(tally),
        calibration=_calibration(tally, matured_by),
        costs=Costs(
            total=costs,
            per_interaction=Money(costs.total.amount / interactions, currency)
            if interactions and not costs.other_currencies
            else None,
            tokens=tokens,
            tokens_per_interaction=tokens / interactions if interactions else float("nan"),
        ),
        roi=_roi(
            tally,
            rates,
            baselines=baselines,
            assumptions=assumptions,
            currency=currency,
            days=days,
        ),
    )


def daily_series(
    actions: Iterable[Mapping[str, Any]],
    replies: Iterable[Mapping[str, Any]],
    engagement: Iterable[Mapping[str, Any]] = (),
    *,
    since: dt.date,
    until: dt.date,
    replies_matured_until: dt.date,
    currency: str,
    as_date: Any,
) -> list[TrendPoint]:
    """One point per day of the range (zeros where nothing happened). A day after
    ``replies_matured_until`` is provisional: its reply windows are not all closed, so its
    replies are not counted (they would lean towards success), only how many are maturing.
    Opens and clicks (``engagement``: all, and those software made) count on the day they
    happened."""
    days = [since + dt.timedelta(days=i) for i in range((until - since).days + 1)]
    cells = {d: [0.0] * len(_SUMMED) for d in days}
    for r in actions:
        cell = cells.get(as_date(r["day"]))
        if cell is not None:
            cell[0] += int(r["actions"] or 0)
            cell[1] += int(r["escalations"] or 0)
            cell[4] += float(r["cost"] or 0) if r["currency"] == currency else 0.0
            cell[5] += int(r["tokens"] or 0)
    for r in replies:
        day = as_date(r["day"])
        cell = cells.get(day)
        if cell is None:
            continue
        if day <= replies_matured_until:
            cell[2] += float(r["successes"] or 0)
            cell[3] += int(r["resolved"] or 0)
        else:
            cell[6] += int(r["resolved"] or 0) + int(r["pending"] or 0)
    for r in engagement:
        cell = cells.get(as_date(r["day"]))
        if cell is not None:
            for name in _ENGAGEMENT:
                cell[_SUMMED.index(name)] += int(r[name] or 0)
    return [_point(d, c, provisional=d > replies_matured_until) for d, c in cells.items()]


def weekly_series(points: Iterable[TrendPoint]) -> list[TrendPoint]:
    """Daily points summed by ISO week (Monday first); the first and last may be partial. A
    week holding a provisional day is provisional; its replies are those of its matured days."""
    weeks: dict[dt.date, list[float]] = {}
    provisional: dict[dt.date, bool] = {}
    for p in points:
        start = p.day - dt.timedelta(days=p.day.weekday())
        cell = weeks.setdefault(start, [0.0] * len(_SUMMED))
        for i, name in enumerate(_SUMMED):
            cell[i] += getattr(p, name)
        provisional[start] = provisional.get(start, False) or p.provisional
    return [_point(d, c, provisional=provisional[d]) for d, c in sorted(weeks.items())]


# Opens and clicks of a TrendPoint, as `email_engagement` names them.
_ENGAGEMENT = ("opens", "machine_opens", "clicks", "machine_clicks")
# The summed fields of a TrendPoint, in the order of a series' cells.
_SUMMED = (
    "actions",
    "escalations",
    "replies",
    "reply_outcomes",
    "cost",
    "tokens",
    "maturing_replies",
    *_ENGAGEMENT,
)


def _point(day: dt.date, cell: list[float], *, provisional: bool) -> TrendPoint:
    actions, escalations, replies, outcomes, cost, tokens, maturing, *engagement = cell
    return TrendPoint(
        day,
        int(actions),
        int(escalations),
        replies,
        int(outcomes),
        cost,
        int(tokens),
        maturing_replies=int(maturing),
        provisional=provisional,
        **{name: int(n) for name, n in zip(_ENGAGEMENT, engagement, strict=True)},
    )
