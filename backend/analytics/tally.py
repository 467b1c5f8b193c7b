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
from typing import Any, TypeVar

import numpy as np

from analytics_engine.calibration import (
    STAT_FIELDS,
    CalibrationStats,
    brier_decomposition,
    debiased_calibration_error,
)
from analytics_engine.roi import RateComparison, compare_rates, rate_estimate, roi_summary
from analytics_engine.verdict import MIN_OUTCOMES, VerdictKind, assess
from backend.analytics.metrics import (
    ATTENDANCE_OUTCOME,
    MEETING_ACTION,
    REPLY_OUTCOME,
    ActionTypeActivity,
    ActionTypeRate,
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
    human_minutes: float = 0.0  # Σ minutes per task × automated tasks, where a baseline exists
    human_value: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    covered: int = 0  # interactions of action types that have a baseline

    def merge(self, other: Tally) -> Tally:
        _add_cells(self.actions, other.actions)
        _add_cells(self.outcomes, other.outcomes)
        _add_cells(self.feedback, other.feedback)
        for target_sum, source_sum in (
            (self.cost, other.cost),
            (self.amount_won, other.amount_won),
            (self.human_value, other.human_value),
        ):
            for currency, amount in source_sum.items():
                target_sum[currency] += amount
        for k, table in other.calibration.items():
            self.calibration[k] = self.calibration[k] + table
        self.deals = [a + b for a, b in zip(self.deals, other.deals, strict=True)]
        self.human_minutes += other.human_minutes
        self.covered += other.covered
        return self

    def price(self, baselines: Mapping[str, HumanBaseline]) -> None:
        """Value the automated tasks at the team's human baselines (per action type)."""
        for action_type, (actions, escalations, _critical, _tokens) in self.actions.items():
            baseline = baselines.get(action_type)
            if baseline is None:
                continue
            minutes = baseline.minutes_per_task * (actions - escalations)
            self.human_minutes += minutes
            self.human_value[baseline.currency] += minutes * float(baseline.loaded_hourly_cost) / 60
            self.covered += actions


def tallies(rows: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[int, Tally]:
    """Per-key tallies from the repository's rows (by family name)."""
    out: dict[int, Tally] = defaultdict(Tally)
    for r in rows["actions"]:
        t = out[r["key"]]
        cell = t.actions[r["action_type"]]
        for i, name in enumerate(("actions", "escalations", "critical", "tokens")):
            cell[i] += int(r[name] or 0)
        t.cost[r["currency"]] += float(r["cost"] or 0)
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


def _roi(tally: Tally, interactions: int, escalations: int, currency: str) -> Roi:
    cost = dict(tally.cost)
    spent = {c for c, a in cost.items() if a and c != currency}
    valued = {c for c, v in tally.human_value.items() if v and c != currency}
    foreign = sorted(spent | valued)
    automated = interactions - escalations
    minutes = tally.human_minutes / automated if automated else 0.0
    value = tally.human_value.get(currency, 0.0)
    hourly = value * 60 / tally.human_minutes if tally.human_minutes else 0.0
    money = not foreign
    summary = roi_summary(
        interactions=interactions,
        escalations=escalations,
        total_cost=cost.get(currency, 0.0) if money else 0.0,
        human_minutes_per_task=minutes,
        human_hourly_cost=hourly if money else 0.0,
    )
    note = None
    if not money:
        note = (
            f"amounts in {', '.join(foreign)} are not converted to {currency}: money figures "
            "and ROI are not computed"
        )
    elif tally.covered < interactions:
        note = (
            f"{interactions - tally.covered} interactions have no human baseline for their "
            "action type and save no time in this estimate"
        )
    return Roi(summary, currency, tally.covered, money, note)


def metrics_of(
    tally: Tally,
    *,
    baselines: Mapping[str, list[HumanBaseline]],
    currency: str,
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
        roi=_roi(tally, interactions, escalated, currency),
    )


def daily_series(
    actions: Iterable[Mapping[str, Any]],
    replies: Iterable[Mapping[str, Any]],
    *,
    since: dt.date,
    until: dt.date,
    replies_matured_until: dt.date,
    currency: str,
    as_date: Any,
) -> list[TrendPoint]:
    """One point per day of the range (zeros where nothing happened). A day after
    ``replies_matured_until`` is provisional: its reply windows are not all closed, so its
    replies are not counted (they would lean towards success), only how many are maturing."""
    days = [since + dt.timedelta(days=i) for i in range((until - since).days + 1)]
    cells = {d: [0, 0, 0.0, 0, 0.0, 0, 0] for d in days}
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
    return [_point(d, c, provisional=d > replies_matured_until) for d, c in cells.items()]


def weekly_series(points: Iterable[TrendPoint]) -> list[TrendPoint]:
    """Daily points summed by ISO week (Monday first); the first and last may be partial. A
    week holding a provisional day is provisional; its replies are those of its matured days."""
    weeks: dict[dt.date, list[float]] = {}
    provisional: dict[dt.date, bool] = {}
    for p in points:
        start = p.day - dt.timedelta(days=p.day.weekday())
        cell = weeks.setdefault(start, [0, 0, 0.0, 0, 0.0, 0, 0])
        for i, name in enumerate(_SUMMED):
            cell[i] += getattr(p, name)
        provisional[start] = provisional.get(start, False) or p.provisional
    return [_point(d, c, provisional=provisional[d]) for d, c in sorted(weeks.items())]


# The summed fields of a TrendPoint, in the order of a series' cells.
_SUMMED = (
    "actions",
    "escalations",
    "replies",
    "reply_outcomes",
    "cost",
    "tokens",
    "maturing_replies",
)


def _point(day: dt.date, cell: list[float], *, provisional: bool) -> TrendPoint:
    actions, escalations, replies, outcomes, cost, tokens, maturing = cell
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
    )
