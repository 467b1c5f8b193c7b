"""What a threshold, anomaly or drift rule finds on its metric at a moment: whether its
condition holds, whether it has cleared (past the hysteresis band), and the evidence.

The judging itself is the engine's (``analytics_engine.alert_judgement``, which the detector
bench judges simulated series with): thresholds pool the trailing ``window_days`` judged days
into one rate (a sustained level, not one bad hour) and are not judged under ``MIN_TRIALS``;
anomalies and drifts run the weekday-baseline detector (beta-binomial tails, small-count aware;
its CUSUM for sustained shifts) over ``HISTORY_DAYS`` and hold while a finding of their kind lies
within the trailing ``window_days``. This module reads the series and words the finding.

The threshold-only metrics of other domains (cost per interaction, feedback score, labelling
queue age, unanswered prompts: ``series.measure``) take the same threshold path: a mean
pooled over the window's days and judged from ``MIN_TRIALS`` actions or ratings, or an age or
a count at the moment of judging, judged whenever measured.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from analytics_engine.alert_judgement import (
    HISTORY_DAYS,
    MIN_TRIALS,
    Direction,
    RuleJudgement,
    judge_findings,
    judge_threshold_value,
)
from backend.alerts.metrics import METRICS, Metric
from backend.alerts.models import AlertRule, RuleKind
from backend.alerts.series import calibration_error, daily_counts, last_judged_day, measure

if TYPE_CHECKING:
    from analytics_engine.anomalies import RateAnomaly

MEASURED = ("costs", "feedback", "label_queue", "prompts")  # threshold-only, via ``measure``


@dataclass(frozen=True)
class Judgement:
    holds: bool
    cleared: bool  # past the clear threshold (for anomalies and drifts: not holding)
    observed: float | None
    expected: float | None
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _direction(rule: AlertRule) -> Direction:
    if rule.direction not in ("above", "below"):
        raise ValueError(f"rule {rule.id} has no direction")
    return cast("Direction", rule.direction)


async def judge_series_rule(
    session: Any,
    rule: AlertRule,
    *,
    agent_ids: list[int] | None,
    config: dict[str, Any] | None,
    now: dt.datetime,
) -> Judgement | None:
    """The rule's finding at ``now``; None when there is too little data to judge. Series are
    read up to their last judged day before ``now``'s date; metrics measured at a moment (the
    labelling queue, prompts) are measured at ``now``."""
    today = now.date()
    metric = METRICS[rule.metric]
    if metric.source in MEASURED:
        if rule.kind != RuleKind.THRESHOLD:
            return None
        return await _judge_measured(
            session, rule, metric, agent_ids=agent_ids, today=today, now=now
        )
    until = last_judged_day(metric, rule.action_type, config, today)
    since = until - dt.timedelta(days=rule.window_days - 1)
    org, action_type = rule.organization_id, rule.action_type
    window = {"from": since.isoformat(), "to": until.isoformat()}
    if rule.kind == RuleKind.THRESHOLD:
        assert rule.threshold is not None
        if metric.source == "calibration":
            value, n = await calibration_error(
                session,
                organization_id=org,
                agent_ids=agent_ids,
                action_type=action_type,
                since=since,
                until=until,
            )
        else:
            counts = await daily_counts(
                session,
                metric,
                organization_id=org,
                agent_ids=agent_ids,
                action_type=action_type,
                since=since,
                until=until,
            )
            n = counts.total_trials
            value = counts.total_successes / n if n else float("nan")
        return _threshold_judgement(
            rule,
            value,
            n,
            message=f"{rule.metric} {value:.3f} is {rule.direction} {rule.threshold:g} over "
            f"{rule.window_days} days to {until}",
            evidence={"window": window},
        )
    history_since = until - dt.timedelta(days=HISTORY_DAYS - 1)
    counts = await daily_counts(
        session,
        metric,
        organization_id=org,
        agent_ids=agent_ids,
        action_type=action_type,
        since=history_since,
        until=until,
    )
    # here, where needed: the detector loads scipy.stats (about 100 MiB), which an idle server
    # does without
    from analytics_engine.alert_judgement import rate_findings

    findings = (
        rate_findings(
            np.array(counts.days, dtype="datetime64[D]"),
            counts.trials,
            counts.successes,
            as_of=until,
        )
        if counts.days
        else ()
    )
    kind: Literal["anomaly", "drift"] = "anomaly" if rule.kind == RuleKind.ANOMALY else "drift"
    judged = judge_findings(
        findings,
        kind=kind,
        direction=None if rule.direction is None else _direction(rule),
        window_days=rule.window_days,
        as_of=until,
    )
    if judged.finding is None:
        return Judgement(
            holds=False,
            cleared=True,
            observed=None,
            expected=None,
            message=f"no {rule.kind} of {rule.metric} in {rule.window_days} days to {until}",
            evidence={"window": window},
        )
    latest = judged.finding
    return Judgement(
        holds=True,
        cleared=False,
        observed=latest.observed_rate,
        expected=latest.expected_rate,
        message=_anomaly_message(rule, latest),
        evidence={"window": window, **_anomaly_evidence(latest)},
    )


def _threshold_judgement(
    rule: AlertRule,
    value: float,
    n: float,
    *,
    message: str,
    evidence: dict[str, Any],
    min_trials: float = MIN_TRIALS,
) -> Judgement | None:
    """A threshold's finding on the value (the engine's ``judge_threshold_value``): holds past
    the threshold, clears past the clear threshold (hysteresis); None under ``min_trials`` or
    when the value is not a number."""
    assert rule.threshold is not None
    judged: RuleJudgement | None = judge_threshold_value(
        value,
        n,
        direction=_direction(rule),
        threshold=rule.threshold,
        clear_threshold=rule.clear_threshold,
        min_trials=min_trials,
    )
    if judged is None:
        return None
    return Judgement(
        holds=judged.holds,
        cleared=judged.cleared,
        observed=value,
        expected=rule.threshold,
        message=message,
        evidence={
            **evidence,
            "value": round(value, 6),
            "n": n,
            "threshold": rule.threshold,
            "clearThreshold": judged.clear_threshold,
        },
    )


async def _judge_measured(
    session: Any,
    rule: AlertRule,
    metric: Metric,
    *,
    agent_ids: list[int] | None,
    today: dt.date,
    now: dt.datetime,
) -> Judgement | None:
    """A threshold on a metric ``series.measure`` reads: a mean judged from ``MIN_TRIALS``
    units, an age or a count whenever it is measured."""
    assert rule.threshold is not None
    measured = await measure(
        session,
        metric,
        organization_id=rule.organization_id,
        agent_ids=agent_ids,
        action_type=rule.action_type,
        window_days=rule.window_days,
        today=today,
        now=now,
    )
    if not np.isfinite(measured.value):
        return None

    def shown(value: float) -> str:
        return metric.format(value, currency=measured.currency)

    return _threshold_judgement(
        rule,
        measured.value,
        measured.n,
        message=f"{metric.label} {shown(measured.value)} is {rule.direction} "
        f"{shown(rule.threshold)} {measured.span} ({measured.units})",
        evidence=measured.evidence,
        min_trials=MIN_TRIALS if measured.counted else 0.0,
    )


def _anomaly_message(rule: AlertRule, found: RateAnomaly) -> str:
    what = "a sustained" if found.kind == "sustained" else "an unusual"
    since = f" since {found.start_day}" if found.kind == "sustained" else f" on {found.day}"
    return (
        f"{what} {found.direction} of {rule.metric}{since}: {found.observed_rate:.3f} against "
        f"{found.expected_rate:.3f} expected ({found.relative_change:+.0%})"
    )


def _anomaly_evidence(found: RateAnomaly) -> dict[str, Any]:
    def number(value: float) -> float | None:
        return None if not np.isfinite(value) else round(float(value), 6)

    return {
        "day": found.day.isoformat(),
        "startDay": found.start_day.isoformat(),
        "finding": found.kind,
        "direction": found.direction,
        "n": found.count,
        "successes": found.successes,
        "value": number(found.observed_rate),
        "baseline": number(found.expected_rate),
        "relativeChange": number(found.relative_change),
        "z": number(found.z),
        "pValue": number(found.p_value),
        "detectorSeverity": found.severity,
    }
