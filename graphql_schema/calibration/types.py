"""GraphQL types of calibration: the report of a scope, its history, policies and their changes.

Numbers the engine leaves undefined (NaN, e.g. a test with no variance) or infinite are null.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeAlias

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from analytics_engine import calibration as engine
from analytics_engine.policy import PolicyEvidence
from analytics_engine.policy_band import BandState
from analytics_engine.recalibration import RecalibrationMap
from analytics_engine.verdict import Verdict, VerdictKind
from backend.agents.models import Agent
from backend.calibration import repository
from backend.calibration.drift import DriftReading
from backend.calibration.monitors import MonitorReading
from backend.calibration.repository import CalibrationReport, HistoryPoint, Interval
from backend.calibration.service import MapInForce
from backend.orgs.models import Organization, User
from backend.policy.models import AgentPolicy, PolicyChange, ThresholdEvidence
from backend.policy.service import policy_defaults
from graphql_schema.agents.types import AgentType
from graphql_schema.loaders import by_column, by_id
from graphql_schema.orgs.types import UserType

MAP_POINTS = 21

# Each GraphQL enum is the domain's enum registered with Strawberry; the alias names it
# in annotations (a call's result is no type to mypy).
strawberry.enum(
    VerdictKind,
    name="CalibrationVerdictKind",
    description="What the evidence says about calibration.",
)
VerdictKindEnum: TypeAlias = VerdictKind
strawberry.enum(
    Interval,
    name="CalibrationInterval",
    description="The period of a calibration history point; weeks start on Monday.",
)
IntervalEnum: TypeAlias = Interval


@strawberry.enum(name="CalibrationDirection", description="Which way confidence is off on average.")
class Direction(Enum):
    OVERCONFIDENT = "overconfident"
    UNDERCONFIDENT = "underconfident"
    NONE = "none"


@strawberry.enum(name="RecalibrationMethod", description="How a recalibration map was fitted.")
class RecalibrationMethod(Enum):
    IDENTITY = "identity"
    HISTOGRAM = "histogram"
    PLATT = "platt"
    ISOTONIC = "isotonic"


@strawberry.enum(description="Whose agents a pooled map's prior leans toward.")
class PooledToward(Enum):
    TEAM = strawberry.enum_value("team", description="The agent's team's agents, then the rest.")
    ORGANIZATION = strawberry.enum_value(
        "organization", description="All the organisation's agents of the action type alike."
    )
    PAST = strawberry.enum_value(
        "past",
        description="The agent's own map before its latest change (a drift found): its "
        "outcomes since the change take over as they disagree.",
    )


@strawberry.enum(
    name="RecalibrationSource",
    description="Where the recalibration map in use comes from.",
)
class RecalibrationSource(Enum):
    POOLED = strawberry.enum_value(
        "pooled",
        description="The agent's outcomes pooled with its siblings' (the other agents of the "
        "organisation for the action type): all from them for a new agent, less as its own "
        "outcomes grow.",
    )
    OWN = strawberry.enum_value(
        "own",
        description="The agent's own outcomes alone: it is unlike its siblings, or its own map "
        "had the better leave-one-out evidence.",
    )
    UNPOOLED = strawberry.enum_value(
        "unpooled",
        description="Nothing to pool with: fewer than two other agents of the action type "
        "have enough outcomes for a fit.",
    )


@strawberry.enum(
    name="RecalibrationCandidate",
    description="A map the evidence chooses among: the agent's own fits and the pooled map.",
)
class RecalibrationCandidate(Enum):
    IDENTITY = strawberry.enum_value("identity", description="The raw confidence as it is.")
    PLATT = strawberry.enum_value(
        "platt", description="A logistic curve in the raw confidence's log-odds (two numbers)."
    )
    ISOTONIC = strawberry.enum_value(
        "isotonic", description="The monotone fit with one level per confidence bin."
    )
    HISTOGRAM = strawberry.enum_value(
        "histogram",
        description="A monotone step map: adjacent confidence bins merged into at most six "
        "groups where the data say so (the number of groups chosen by BIC), one level each.",
    )
    POOLED = strawberry.enum_value(
        "pooled", description="The agent's Platt map shrunk toward its prior (siblings' or past)."
    )


@strawberry.enum(name="PolicyChangedBy", description="Who changed a policy.")
class PolicyChangedBy(Enum):
    SYSTEM = "system"
    USER = "user"


def finite(value: float | None) -> float | None:
    """NaN and infinities (undefined numbers) become null."""
    return None if value is None or not math.isfinite(value) else float(value)


@strawberry.type(
    description="Brier score and its exact decomposition (Murphy 1973; Stephenson, "
    "Coelho & Jolliffe 2008): score = reliability - resolution + uncertainty + "
    "withinBinVariance - withinBinCovariance."
)
class BrierDecomposition:
    score: float | None = strawberry.field(description="Mean (p - y)²; 0 is perfect.")
    reliability: float | None = strawberry.field(description="Miscalibration term (0 is perfect).")
    resolution: float | None = strawberry.field(
        description="Discrimination term (larger is better)."
    )
    uncertainty: float | None = strawberry.field(description="Variance of the outcomes.")
    within_bin_variance: float | None = strawberry.field(
        description="Spread of confidence inside the bins."
    )
    within_bin_covariance: float | None = strawberry.field(
        description="Covariance of confidence and outcome inside the bins."
    )
    binned_score: float | None = strawberry.field(
        description="Brier score of the binned forecast: reliability - resolution + uncertainty."
    )

    @classmethod
    def of(cls, b: engine.BrierDecomposition) -> BrierDecomposition:
        return cls(
            score=finite(b.brier),
            reliability=finite(b.reliability),
            resolution=finite(b.resolution),
            uncertainty=finite(b.uncertainty),
            within_bin_variance=finite(b.within_bin_variance),
            within_bin_covariance=finite(b.within_bin_covariance),
            binned_score=finite(b.binned_brier),
        )


@strawberry.type(
    description="Spiegelhalter's (1986) Z test: Z > 0 means confidence too extreme, "
    "Z < 0 too timid."
)
class SpiegelhalterTest:
    z: float | None = strawberry.field(
        description="The Z statistic (null when undefined, e.g. every confidence is 0, 0.5 or 1)."
    )
    p_value: float | None = strawberry.field(description="Two-sided p-value.")

    @classmethod
    def of(cls, t: engine.SpiegelhalterTest) -> SpiegelhalterTest:
        return cls(z=finite(t.z), p_value=finite(t.p_value))


@strawberry.type(description="Calibration in the large: observed over expected successes.")
class ObservedExpected:
    observed: float | None = strawberry.field(description="Σ outcome values.")
    expected: float | None = strawberry.field(description="Σ confidences.")
    ratio: float | None = strawberry.field(description="O/E; below 1 is overconfident.")
    lower: float | None = strawberry.field(description="Lower end of its 95% interval.")
    upper: float | None = strawberry.field(description="Upper end of its 95% interval.")
    z: float | None = strawberry.field(description="z of O - E.")
    p_value: float | None = strawberry.field(description="Two-sided p-value of that z.")
    direction: Direction = strawberry.field(description="Which way confidence is off.")

    @classmethod
    def of(cls, o: engine.ObservedExpected) -> ObservedExpected:
        return cls(
            observed=finite(o.observed),
            expected=finite(o.expected),
            ratio=finite(o.ratio),
            lower=finite(o.lower),
            upper=finite(o.upper),
            z=finite(o.z),
            p_value=finite(o.p_value),
            direction=Direction(o.direction),
        )


@strawberry.type(
    description="Hosmer–Lemeshow (1980) goodness of fit on up to 10 equal-mass "
    "groups, for reporting."
)
class HosmerLemeshow:
    statistic: float | None = strawberry.field(description="The chi-squared statistic.")
    degrees_of_freedom: int = strawberry.field(description="Groups - 2.")
    p_value: float | None = strawberry.field(description="Null with fewer than 3 groups.")
    groups: int = strawberry.field(description="Groups used.")

    @classmethod
    def of(cls, h: engine.HosmerLemeshow) -> HosmerLemeshow:
        return cls(
            statistic=finite(h.statistic),
            degrees_of_freedom=h.df,
            p_value=finite(h.p_value),
            groups=h.n_groups,
        )


@strawberry.type(
    description="One fixed confidence bin of the reliability curve (empty bins have "
    "count 0, null means and the whole [0, 1] as intervals)."
)
class ReliabilityBin:
    lower: float = strawberry.field(
        description="Lower edge of the bin (exclusive; 0 is in the first bin), as scikit-learn's "
        "calibration_curve."
    )
    upper: float = strawberry.field(description="Upper edge (inclusive).")
    count: int = strawberry.field(description="Outcomes in the bin.")
    mean_confidence: float | None = strawberry.field(description="Mean confidence in the bin.")
    observed_rate: float | None = strawberry.field(description="Mean outcome value in the bin.")
    wilson_lower: float | None = strawberry.field(description="Wilson 95% interval, lower end.")
    wilson_upper: float | None = strawberry.field(description="Wilson 95% interval, upper end.")
    jeffreys_lower: float | None = strawberry.field(description="Jeffreys 95% interval, lower end.")
    jeffreys_upper: float | None = strawberry.field(description="Jeffreys 95% interval, upper end.")

    @classmethod
    def of(cls, k: repository.ReliabilityBin) -> ReliabilityBin:
        return cls(
            lower=k.lower,
            upper=k.upper,
            count=round(k.count),
            mean_confidence=finite(k.mean_confidence),
            observed_rate=finite(k.observed_rate),
            wilson_lower=finite(k.wilson_lower),
            wilson_upper=finite(k.wilson_upper),
            jeffreys_lower=finite(k.jeffreys_lower),
            jeffreys_upper=finite(k.jeffreys_upper),
        )


@strawberry.type(description="A point of the CORP reliability curve (one non-empty bin).")
class CorpPoint:
    mean_confidence: float = strawberry.field(description="The bin's mean confidence.")
    calibrated: float = strawberry.field(description="Isotonic (PAV) fit of the observed rate.")
    observed_rate: float = strawberry.field(description="The bin's mean outcome value.")
    count: int = strawberry.field(description="Outcomes in the bin.")


@strawberry.type(
    description="CORP reliability (Dimitriadis, Gneiting & Jordan 2021) of the binned "
    "forecast: score = mcb - dsc + unc."
)
class CorpReliability:
    points: list[CorpPoint] = strawberry.field(description="The curve, by confidence.")
    score: float | None = strawberry.field(description="Brier score of the binned forecast.")
    mcb: float | None = strawberry.field(description="Miscalibration (≥ 0).")
    dsc: float | None = strawberry.field(description="Discrimination (≥ 0).")
    unc: float | None = strawberry.field(description="Uncertainty.")

    @classmethod
    def of(cls, c: engine.CorpReliability) -> CorpReliability:
        columns = (c.mean_confidence, c.calibrated, c.observed_rate, c.count)
        points = [
            CorpPoint(mean_confidence=x, calibrated=f, observed_rate=y, count=round(n))
            for x, f, y, n in zip(*(a.tolist() for a in columns), strict=True)
        ]
        return cls(
            points=points,
            score=finite(c.score),
            mcb=finite(c.mcb),
            dsc=finite(c.dsc),
            unc=finite(c.unc),
        )


@strawberry.type(
    name="CalibrationVerdict",
    description="The verdict of analytics_engine.assess with its evidence.",
)
class VerdictType:
    kind: VerdictKindEnum = strawberry.field(description="The verdict.")
    actionable: bool = strawberry.field(
        description="Whether it calls for action (recalibration, calibration alerts)."
    )
    sample_size: int = strawberry.field(description="Outcomes judged.")
    z: float | None = strawberry.field(description="Spiegelhalter's Z.")
    p_value: float | None = strawberry.field(description="Its two-sided p-value.")
    observed_expected_z: float | None = strawberry.field(description="z of O - E.")
    observed_expected: float | None = strawberry.field(description="O/E ratio.")
    observed_expected_lower: float | None = strawberry.field(description="O/E 95% lower end.")
    observed_expected_upper: float | None = strawberry.field(description="O/E 95% upper end.")
    debiased_error: float | None = strawberry.field(description="Debiased calibration error.")
    reason: str = strawberry.field(description="One plain-English sentence.")

    @classmethod
    def of(cls, v: Verdict) -> VerdictType:
        return cls(
            kind=v.kind,
            actionable=v.is_actionable,
            sample_size=round(v.n),
            z=finite(v.z),
            p_value=finite(v.p_value),
            observed_expected_z=finite(v.oe_z),
            observed_expected=finite(v.observed_expected),
            observed_expected_lower=finite(v.oe_lower),
            observed_expected_upper=finite(v.oe_upper),
            debiased_error=finite(v.debiased_error),
            reason=v.reason,
        )


@strawberry.type(
    description="The scope's anytime-valid calibration test: an e-process fed every decided "
    "outcome of the matured days in the order the actions were taken (Waudby-Smith & Ramdas "
    "2023). A stored verdict acts only once it is confirmed, which a calibrated agent reaches, "
    "ever, with probability at most 5 %, however long it is watched."
)
class CalibrationMonitorType:
    e_value: float | None = strawberry.field(description="The current e-value (1 at the start).")
    anytime_p_value: float | None = strawberry.field(
        description="min(1, 1 / the largest e-value so far): valid whenever it is read."
    )
    confirmed: bool = strawberry.field(
        description="Whether the e-value has reached 20 (alpha 5 %): miscalibration confirmed."
    )
    outcomes: float = strawberry.field(description="Outcomes fed so far.")
    direction: str = strawberry.field(
        description="Which way the evidence points: `above` (underconfident), `below` "
        "(overconfident), `timid` or `extreme` (the confidence's spread)."
    )
    fed_through: dt.date | None = strawberry.field(
        description="The last matured day fed (null: never fed yet)."
    )

    @classmethod
    def of(cls, r: MonitorReading) -> CalibrationMonitorType:
        m = r.monitor
        return cls(
            e_value=finite(m.e_value),
            anytime_p_value=finite(m.p_value),
            confirmed=m.alarm(alpha=0.05),
            outcomes=m.n,
            direction=m.direction,
            fed_through=r.through,
        )


@strawberry.type(
    name="CalibrationDrift",
    description="One agent's change detector: a Shiryaev–Roberts e-detector on the residuals of "
    "its map in force, fed the same matured outcomes as its monitor (Shin, Ramdas & Rinaldo "
    "2023). While the map is right, alarms come on average at least `threshold` outcomes "
    "apart. When it fires, the agent's map is refitted on the days from the estimated change, "
    "leaning on its map before (`RecalibrationMap.pooledToward` PAST).",
)
class CalibrationDriftType:
    statistic: float | None = strawberry.field(
        description="The detector's statistic now (1 at its start; a change at `threshold`)."
    )
    threshold: float = strawberry.field(description="The statistic at which a change is found.")
    changed_on: dt.date | None = strawberry.field(
        description="The first day of the agent's latest change, as estimated: its map is "
        "fitted on the outcomes of the actions from that day on (null: none found in the "
        "trailing window)."
    )
    found_on: dt.date | None = strawberry.field(
        description="The matured day whose outcomes revealed the latest change."
    )
    changes: int = strawberry.field(description="Changes found so far.")

    @classmethod
    def of(cls, r: DriftReading) -> CalibrationDriftType:
        return cls(
            statistic=finite(r.statistic),
            threshold=r.threshold,
            changed_on=r.changed_on,
            found_on=r.found_on,
            changes=r.changes,
        )


@strawberry.type(description="A raw confidence and its calibrated value.")
class RecalibrationPoint:
    raw: float = strawberry.field(description="The agent's raw confidence.")
    calibrated: float = strawberry.field(description="What it means, calibrated.")


@strawberry.type(
    description="One candidate map and its evidence: the mean leave-one-out log loss per "
    "outcome (Stone 1974), each outcome predicted by the candidate refitted without it."
)
class RecalibrationCandidateScore:
    candidate: RecalibrationCandidate = strawberry.field(description="The candidate map.")
    leave_one_out_log_loss: float | None = strawberry.field(
        description="Its mean leave-one-out log loss (lower is better); null when it could not "
        "be fitted or was not offered."
    )


@strawberry.type(
    description="How the map was chosen: the candidate with the best leave-one-out evidence, "
    "a flexible map replacing the two-parameter one only when better by more than one "
    "standard error."
)
class RecalibrationChoice:
    chosen: RecalibrationCandidate = strawberry.field(description="The candidate in use.")
    candidates: list[RecalibrationCandidateScore] = strawberry.field(
        description="Every candidate's evidence."
    )
    reason: str = strawberry.field(description="The choice in one sentence, with the numbers.")


def _choice(basis: Mapping[str, Any]) -> RecalibrationChoice | None:
    chosen, losses = basis.get("chosen"), basis.get("leaveOneOutLogLoss")
    if chosen is None or losses is None:
        return None
    return RecalibrationChoice(
        chosen=RecalibrationCandidate(chosen),
        candidates=[
            RecalibrationCandidateScore(
                candidate=c, leave_one_out_log_loss=finite(losses.get(c.value))
            )
            for c in RecalibrationCandidate
        ],
        reason=str(basis.get("choiceReason") or ""),
    )


@strawberry.type(
    name="RecalibrationMap", description="A monotone map from raw to calibrated confidence."
)
class RecalibrationMapType:
    method: RecalibrationMethod = strawberry.field(description="How it was fitted.")
    sample_size: int = strawberry.field(description="Outcomes it was fitted on.")
    points: list[RecalibrationPoint] = strawberry.field(
        description=f"The map at {MAP_POINTS} evenly spaced raw confidences 0, 0.05, ..., 1."
    )
    source: RecalibrationSource | None = strawberry.field(
        default=None,
        description="Where the map comes from: pooled with the agent's siblings, its own, or "
        "unpooled. Null for a map fitted on a team's or the organisation's outcomes in a "
        "report, and for a map stored before pooling.",
    )
    pooled_weight: float | None = strawberry.field(
        default=None,
        description="The share of the map's precision that comes from the siblings (0 to 1): "
        "1 for a new agent, shrinking as its own outcomes grow; 0 unless `source` is POOLED.",
    )
    siblings: int | None = strawberry.field(
        default=None,
        description="The other agents of the action type whose fits the pooled map was "
        "estimated from.",
    )
    pooled_toward: PooledToward | None = strawberry.field(
        default=None,
        description="Whose agents the prior leans toward: TEAM (with two teams or more, the "
        "agent's own team's as much as the teams differ), ORGANIZATION, or PAST (after a "
        "change: the agent's own map before it). Null when nothing was pooled or for a map "
        "stored before team pooling.",
    )
    chosen_by: RecalibrationChoice | None = strawberry.field(
        default=None, description="The evidence that chose this map among the candidates."
    )
    reason: str | None = strawberry.field(
        default=None, description="Why this map, in one plain-English sentence."
    )

    @classmethod
    def of(cls, m: RecalibrationMap) -> RecalibrationMapType:
        raw, calibrated = m.points(MAP_POINTS)
        basis: Mapping[str, Any] = m.basis if isinstance(m, MapInForce) else {}
        source = basis.get("source")
        return cls(
            method=RecalibrationMethod(m.method),
            sample_size=round(m.n),
            points=[
                RecalibrationPoint(raw=float(r), calibrated=float(c))
                for r, c in zip(raw, calibrated, strict=True)
            ],
            source=RecalibrationSource(source) if source is not None else None,
            pooled_weight=finite(basis.get("pooledWeight")),
            siblings=basis.get("siblings"),
            pooled_toward=PooledToward(basis["pooledToward"])
            if basis.get("pooledToward") in ("team", "organization", "past")
            else None,
            chosen_by=_choice(basis),
            reason=basis.get("reason"),
        )


@strawberry.type(
    name="Calibration",
    description="How well confidence matched outcomes for one "
    "scope (an agent, a team or all the viewer sees), action type and range of days "
    "(the days the actions were taken). Scores are null when there are no outcomes.",
)
class CalibrationType:
    action_type: str = strawberry.field(description="The action type, e.g. `email`.")
    from_: dt.date = strawberry.field(name="from", description="First day (inclusive).")
    to: dt.date = strawberry.field(description="Last day (inclusive).")
    matured_until: dt.date = strawberry.field(
        description="The last day whose outcomes have all matured (every window of the type's "
        "calibrating outcome closed). Only days up to it are judged: on later days replies are "
        'decided at once but "no reply" only when the window closes, so their outcomes would '
        "read as success. Every score, curve and the verdict cover `from` to the earlier of "
        "`to` and this day."
    )
    sample_size: int = strawberry.field(
        description="Resolved outcomes of the matured days in the scope."
    )
    maturing_outcomes: int = strawberry.field(
        description="Outcomes already decided on the range's days after `maturedUntil`: not "
        "judged until their days have matured."
    )
    brier_score: float | None = strawberry.field(description="Mean (p - y)².")
    brier_decomposition: BrierDecomposition | None = strawberry.field(
        description="The Brier score's terms."
    )
    log_loss: float | None = strawberry.field(description="Mean log loss.")
    ece: float | None = strawberry.field(
        description="Expected calibration error (plug-in, fixed bins; biased up for small bins)."
    )
    mce: float | None = strawberry.field(description="Maximum calibration error over bins.")
    debiased_error: float | None = strawberry.field(
        description="The headline number: debiased calibration error in probability units."
    )
    debiased_squared_error: float | None = strawberry.field(
        description="Its square, unbiased (may be slightly negative when calibrated)."
    )
    spiegelhalter: SpiegelhalterTest | None = strawberry.field(description="Spiegelhalter's test.")
    observed_expected: ObservedExpected | None = strawberry.field(
        description="Observed over expected successes."
    )
    hosmer_lemeshow: HosmerLemeshow | None = strawberry.field(description="Hosmer–Lemeshow test.")
    reliability_curve: list[ReliabilityBin] = strawberry.field(
        description="Every fixed bin, empty ones included, by confidence."
    )
    corp: CorpReliability | None = strawberry.field(description="CORP curve and decomposition.")
    verdict: VerdictType = strawberry.field(
        description="The verdict on these outcomes, read once on this range (the verdict "
        "stored and alerted on is also confirmed by `monitor`)."
    )
    monitor: CalibrationMonitorType | None = strawberry.field(
        description="One agent's or the whole organisation's anytime-valid test (null for a "
        "team); it covers every matured outcome fed so far, whatever the range."
    )
    drift: CalibrationDriftType | None = strawberry.field(
        description="One agent's change detector and its latest change (null for wider scopes)."
    )
    recalibration: RecalibrationMapType = strawberry.field(
        description="The calibrated-confidence map: for one agent the map in force for its "
        "actions, for a wider scope the map fitted on the scope's outcomes."
    )

    @classmethod
    def of(cls, r: CalibrationReport) -> CalibrationType:
        b, e, d = r.brier, r.errors, r.debiased
        return cls(
            action_type=r.scope.action_type,
            from_=r.scope.since,
            to=r.scope.until,
            matured_until=r.scope.matured_until,
            sample_size=round(r.n),
            maturing_outcomes=round(r.maturing),
            brier_score=finite(b.brier) if b else None,
            brier_decomposition=BrierDecomposition.of(b) if b else None,
            log_loss=finite(r.log_loss),
            ece=finite(e.ece) if e else None,
            mce=finite(e.mce) if e else None,
            debiased_error=finite(d.error) if d else None,
            debiased_squared_error=finite(d.squared) if d else None,
            spiegelhalter=SpiegelhalterTest.of(r.spiegelhalter) if r.spiegelhalter else None,
            observed_expected=ObservedExpected.of(r.observed_expected)
            if r.observed_expected
            else None,
            hosmer_lemeshow=HosmerLemeshow.of(r.hosmer_lemeshow) if r.hosmer_lemeshow else None,
            reliability_curve=[ReliabilityBin.of(k) for k in r.reliability],
            corp=CorpReliability.of(r.corp) if r.corp else None,
            verdict=VerdictType.of(r.verdict),
            monitor=CalibrationMonitorType.of(r.monitor) if r.monitor else None,
            drift=CalibrationDriftType.of(r.drift) if r.drift else None,
            recalibration=RecalibrationMapType.of(r.recalibration),
        )


@strawberry.type(description="The headline calibration numbers of one day or week with outcomes.")
class CalibrationHistoryPoint:
    period_start: dt.date = strawberry.field(description="The day, or the Monday of the week.")
    sample_size: int = strawberry.field(description="Resolved outcomes of actions taken then.")
    brier_score: float | None = strawberry.field(description="Mean (p - y)².")
    debiased_error: float | None = strawberry.field(description="Debiased calibration error.")
    ece: float | None = strawberry.field(description="Expected calibration error (plug-in).")
    observed_expected: float | None = strawberry.field(description="O/E ratio.")
    verdict: VerdictKindEnum = strawberry.field(
        description="The verdict on that period alone (often insufficient data for a day)."
    )
    observed_expected_lower: float | None = strawberry.field(
        description="Lower end of the O/E ratio's 95% interval over that period alone (the "
        "Wilson interval of its successes over the expected successes, as the verdict's "
        "`observedExpectedLower`); null when undefined (no expected successes)."
    )
    observed_expected_upper: float | None = strawberry.field(
        description="Upper end of the O/E ratio's 95% interval over that period alone (as the "
        "verdict's `observedExpectedUpper`); null when undefined."
    )

    @classmethod
    def of(cls, p: HistoryPoint) -> CalibrationHistoryPoint:
        return cls(
            period_start=p.period_start,
            sample_size=round(p.n),
            brier_score=finite(p.brier),
            debiased_error=finite(p.debiased_error),
            ece=finite(p.ece),
            observed_expected=finite(p.observed_expected),
            verdict=p.verdict,
            observed_expected_lower=finite(p.observed_expected_lower),
            observed_expected_upper=finite(p.observed_expected_upper),
        )


@strawberry.type(
    name="ThresholdEvidence",
    description="One threshold's dead band: the two bettors' evidence since it last moved.",
)
class ThresholdEvidenceType:
    threshold: float = strawberry.field(description="Where the threshold stands.")
    raise_e_value: float | None = strawberry.field(
        description="Evidence that the success rate at the threshold is below its dead band "
        "(move it up): a betting e-value, 1 at the start."
    )
    lower_e_value: float | None = strawberry.field(
        description="Evidence that it is above the band (move it down)."
    )
    outcomes: int = strawberry.field(
        description="Outcomes near the threshold since it last moved (what the evidence rests on)."
    )
    last_move: str | None = strawberry.field(
        description="`raise` or `lower`: its last automatic move (null: none since a person set "
        "it or since it was created)."
    )

    @classmethod
    def of(cls, state: BandState) -> ThresholdEvidenceType:
        return cls(
            threshold=state.threshold,
            raise_e_value=finite(state.e_value("raise")),
            lower_e_value=finite(state.e_value("lower")),
            outcomes=state.seen,
            last_move=state.last_move,
        )


@strawberry.type(
    name="PolicyEvidence",
    description="What a policy's thresholds have gathered from matured outcomes since each last "
    "moved: a threshold moves one step when either e-value reaches `moveAt` (1/alpha), which "
    "happens with probability at most alpha while its success rate stays in its dead band.",
)
class PolicyEvidenceType:
    escalation: ThresholdEvidenceType = strawberry.field(description="The escalation threshold.")
    autonomy: ThresholdEvidenceType = strawberry.field(description="The autonomy threshold.")
    move_at: float = strawberry.field(description="The e-value a move needs (1/alpha).")
    fed_through: dt.date | None = strawberry.field(
        description="The last matured day whose outcomes were fed."
    )


@strawberry.type(
    name="Policy",
    description="An agent's behaviour thresholds for one action type, "
    "in raw confidence: escalate below `escalateBelow`, act alone at or above "
    "`autonomousAbove`, act with review in between.",
)
class PolicyType:
    action_type: str = strawberry.field(description="The action type.")
    escalate_below: float = strawberry.field(description="Escalate to a human below this.")
    autonomous_above: float = strawberry.field(description="Act alone at or above this.")
    frozen: bool = strawberry.field(description="Pinned by a person: automation leaves it alone.")
    version: int = strawberry.field(description="Increases with every change.")
    updated_at: dt.datetime = strawberry.field(description="When it last changed.")
    calibrated_confidence: RecalibrationMapType = strawberry.field(
        description="The map in force that turns the agent's raw confidence into a calibrated one."
    )
    agent_id: strawberry.Private[int]
    policy_id: strawberry.Private[int]
    organization_id: strawberry.Private[int]

    @strawberry.field(description="The agent it governs.")
    async def agent(self, info: Info) -> AgentType | None:
        row = await info.context.loaders.get(by_id(Agent)).load(self.agent_id)
        return AgentType.of(row) if row is not None else None

    @strawberry.field(
        description="What its thresholds have gathered from matured outcomes since each last "
        "moved (null before the first outcome was fed)."
    )
    async def evidence(self, info: Info) -> PolicyEvidenceType | None:
        rows = await info.context.loaders.get(by_column(ThresholdEvidence, "policy_id")).load(
            self.policy_id
        )
        if not rows or not rows[0].state:
            return None
        org = await info.context.loaders.get(by_id(Organization)).load(self.organization_id)
        target = policy_defaults(self.action_type, org.config if org else None).target
        gathered = PolicyEvidence.from_dict(rows[0].state)
        return PolicyEvidenceType(
            escalation=ThresholdEvidenceType.of(gathered.escalation),
            autonomy=ThresholdEvidenceType.of(gathered.autonomy),
            move_at=1.0 / target.alpha,
            fed_through=rows[0].through,
        )

    @classmethod
    def of(cls, p: AgentPolicy, recalibration: RecalibrationMap) -> PolicyType:
        return cls(
            action_type=p.action_type,
            escalate_below=p.escalate_below,
            autonomous_above=p.autonomous_above,
            frozen=p.frozen,
            version=p.version,
            updated_at=p.updated_at,
            calibrated_confidence=RecalibrationMapType.of(recalibration),
            agent_id=p.agent_id,
            policy_id=p.id,
            organization_id=p.organization_id,
        )


@strawberry.type(
    name="PolicyChange",
    description="One version of a policy: what changed, why, on what evidence, and who did it.",
)
class PolicyChangeType:
    version: int = strawberry.field(description="The policy version this change created.")
    previous_escalate_below: float | None = strawberry.field(
        description="Escalation threshold before (null for the first version)."
    )
    previous_autonomous_above: float | None = strawberry.field(
        description="Autonomy threshold before (null for the first version)."
    )
    escalate_below: float = strawberry.field(description="Escalation threshold after.")
    autonomous_above: float = strawberry.field(description="Autonomy threshold after.")
    reason: str = strawberry.field(description="Why, in words.")
    evidence: JSON = strawberry.field(
        description="The evidence behind an automatic change (empty for a person's): the "
        "rule (`dead_band`), its targets, margin, window width and alpha, and each threshold's "
        "moves (direction, before, after, eValue >= 1/alpha, outcomes the evidence rests on, "
        "reversal)."
    )
    changed_by: PolicyChangedBy = strawberry.field(description="The system or a person.")
    changed_at: dt.datetime = strawberry.field(description="When.")
    user_id: strawberry.Private[int | None]

    @strawberry.field(description="The person who made the change (null for the system).")
    async def user(self, info: Info) -> UserType | None:
        if self.user_id is None:
            return None
        row = await info.context.loaders.get(by_id(User)).load(self.user_id)
        return UserType.of(row) if row is not None else None

    @classmethod
    def of(cls, row: PolicyChange) -> PolicyChangeType:
        return cls(
            version=row.version,
            previous_escalate_below=row.previous_escalate_below,
            previous_autonomous_above=row.previous_autonomous_above,
            escalate_below=row.escalate_below,
            autonomous_above=row.autonomous_above,
            reason=row.reason,
            evidence=JSON(row.evidence or {}),
            changed_by=PolicyChangedBy(row.changed_by),
            changed_at=row.created_at,
            user_id=row.changed_by_user_id,
        )
