"""The strategic figures: what-if projections (hand-worked and properties), the recommendation
rule, and the deal win model against statsmodels and scikit-learn."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from analytics_engine import strategy
from analytics_engine.roi import Span
from analytics_engine.strategy import (
    Advice,
    Estimate,
    Finding,
    WorkAssumptions,
    change_value,
    cross_validated_reliability,
    fit_win_model,
    projection_value,
    recommend,
    reliability,
    what_if,
    win_probability,
)

Z = 1.959963984540054


def test_docstring_examples() -> None:
    result = doctest.testmod(strategy, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_what_if_by_hand_on_three_bins() -> None:
    # Bins at raw 0.3, 0.6, 0.9, calibrated 0.2, 0.5, 0.8, 100 decided outcomes each.
    w = what_if(
        confidence=[0.3, 0.6, 0.9],
        calibrated=[0.2, 0.5, 0.8],
        count=[100, 100, 100],
        current_autonomous_above=0.7,
        current_escalate_below=0.4,
        autonomous_above=0.5,
    )
    # Now: 0.9 acts alone, 0.6 is reviewed, 0.3 escalated.
    assert (w.current.autonomous, w.current.reviewed, w.current.escalated) == (100, 100, 100)
    # errors among autonomous: 100 x 0.2 = 20; variance 100 x 0.16 + 100^2 x 0.16 / 100 = 32
    assert w.current.errors.value == pytest.approx(20.0)
    assert w.current.errors.upper - 20.0 == pytest.approx(Z * math.sqrt(32.0))
    assert w.current.error_rate.value == pytest.approx(0.2)
    # Proposed: autonomy from 0.5, escalation stays at 0.4: 0.6 and 0.9 act alone.
    assert (w.proposed.autonomous, w.proposed.reviewed, w.proposed.escalated) == (200, 0, 100)
    assert w.proposed.errors.value == pytest.approx(20.0 + 50.0)
    assert w.proposed.successes.value == pytest.approx(80.0 + 50.0)
    # The change is the 0.6 bin alone: +50 errors, variance 100 x 0.25 + 100 x 0.25 = 50.
    assert w.change.autonomous == 100 and w.change.reviewed == -100 and w.change.escalated == 0
    assert w.change.errors.value == pytest.approx(50.0)
    assert w.change.errors.lower == pytest.approx(50.0 - Z * math.sqrt(50.0))
    # Nobody leaves the escalated band: the agent keeps the same successes.
    assert w.change.kept_successes.value == 0.0
    # Escalated actions would have succeeded 20 times out of 100.
    assert w.current.escalated_successes.value == pytest.approx(20.0)


def test_what_if_scales_to_a_volume_and_takes_each_agents_thresholds() -> None:
    # Two agents' cells of the same bin: agent 1 acts alone at 0.6, agent 2 only from 0.8.
    w = what_if(
        confidence=[0.7, 0.7],
        calibrated=[0.6, 0.6],
        count=[30, 10],
        current_autonomous_above=[0.6, 0.8],
        current_escalate_below=[0.2, 0.2],
        autonomous_above=0.9,
        volume=400,
    )
    assert w.current.actions == pytest.approx(400)
    assert w.current.autonomous == pytest.approx(300)  # 30 / 40 of 400
    assert w.proposed.autonomous == 0 and w.proposed.reviewed == pytest.approx(400)
    # weight 300 per agent-1 cell, decided 30: variance 300 x .24 + 300^2 x .24 / 30
    half = Z * math.sqrt(300 * 0.24 + 300**2 * 0.24 / 30)
    assert w.change.errors.value == pytest.approx(-120.0)
    assert w.change.errors.upper == pytest.approx(-120.0 + half)


def test_an_escalation_threshold_above_the_new_autonomy_one_is_lowered_to_it() -> None:
    w = what_if(
        confidence=[0.3, 0.5],
        calibrated=[0.3, 0.5],
        count=[10, 10],
        current_autonomous_above=0.8,
        current_escalate_below=0.6,
        autonomous_above=0.4,
    )
    assert (w.proposed.autonomous, w.proposed.escalated) == (10, 10)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"autonomous_above": 1.5}, "autonomous_above must lie in [0, 1]"),
        ({"escalate_below": 0.9, "autonomous_above": 0.5}, "escalate_below must not exceed"),
        ({"count": [1, -1]}, "count has negative values"),
        ({"calibrated": [0.5, 2.0]}, "calibrated has values outside [0, 1]"),
        ({"confidence": [0.5]}, "must have the same length"),
        ({"current_autonomous_above": [0.5, 0.6, 0.7]}, "one value per bin"),
        ({"volume": -3.0}, "volume must be"),
    ],
)
def test_bad_input_is_named(changes: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "confidence": [0.3, 0.6],
        "calibrated": [0.3, 0.6],
        "count": [5, 5],
        "current_autonomous_above": 0.7,
        "current_escalate_below": 0.2,
        "autonomous_above": 0.5,
    }
    args.update(changes)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        what_if(**args)  # type: ignore[arg-type]


def test_the_outcome_variance_is_the_poisson_binomial_one() -> None:
    # With (nearly) infinitely many decided outcomes per bin only the outcomes' variance is
    # left: that of a sum of independent Bernoulli(p_i), one per action (scipy as oracle).
    from scipy.stats import bernoulli

    p = np.array([0.1, 0.45, 0.7, 0.95])
    n = np.array([3, 5, 2, 4])
    w = what_if(
        confidence=[0.8, 0.85, 0.9, 0.95],
        calibrated=p,
        count=n * 1e9,
        current_autonomous_above=0.7,
        current_escalate_below=0.1,
        autonomous_above=0.7,
        volume=float(n.sum()),
    )
    per_action = np.repeat(p, n)
    variance = float(np.sum(bernoulli.var(per_action)))
    assert w.current.errors.value == pytest.approx(float(np.sum(1 - per_action)))
    assert w.current.errors.upper - w.current.errors.value == pytest.approx(
        Z * math.sqrt(variance), rel=1e-6
    )


cells = st.integers(min_value=1, max_value=12).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(0, 1), min_size=k, max_size=k),
        st.lists(st.floats(0, 1), min_size=k, max_size=k),
        st.lists(st.integers(0, 500), min_size=k, max_size=k),
    )
)


@settings(max_examples=150, deadline=None)
@given(cells, st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_raising_the_autonomy_threshold_never_adds_autonomous_actions(
    data: tuple[list[float], list[float], list[int]], a: float, b: float, e: float
) -> None:
    confidence, calibrated, count = data
    low, high = sorted((a, b))
    escalate = min(e, low)

    def at(x: float) -> strategy.WhatIf:
        return what_if(
            confidence=confidence,
            calibrated=calibrated,
            count=count,
            current_autonomous_above=0.5,
            current_escalate_below=0.0,
            autonomous_above=x,
            escalate_below=escalate,
        )

    lower, higher = at(low).proposed, at(high).proposed
    assert higher.autonomous <= lower.autonomous
    assert higher.errors.value <= lower.errors.value + 1e-9
    for p in (lower, higher):
        assert p.autonomous + p.reviewed + p.escalated == pytest.approx(sum(count))
        for e_ in (p.errors, p.successes):
            assert -1e-9 <= e_.lower <= e_.value + 1e-9 <= e_.upper + 2e-9
            assert e_.upper <= p.autonomous + 1e-9


def test_hours_and_money_follow_the_assumptions_at_their_ends() -> None:
    w = what_if(
        confidence=[0.3, 0.9],
        calibrated=[0.2, 0.8],
        count=[50, 50],
        current_autonomous_above=0.7,
        current_escalate_below=0.4,
        autonomous_above=0.2,
        escalate_below=0.0,
    )
    a = WorkAssumptions(
        minutes_per_task=Span(5, 6, 8),
        minutes_per_escalation=Span(10, 12, 15),
        minutes_per_review=Span(2, 3, 4),
        hourly_cost=Span(40, 50, 60),
        value_per_success=Span(0, 10, 20),
    )
    now = projection_value(w.current, a)
    # 50 kept at 6 min = 5 h saved; 50 escalations at 12 min = 10 h caused
    assert now.hours_saved.expected == pytest.approx(5.0)
    assert (now.hours_saved.low, now.hours_saved.high) == pytest.approx((50 * 5 / 60, 50 * 8 / 60))
    assert now.hours_caused.expected == pytest.approx(10.0)
    # net = (5 - 10) x 50 + 40 successes x 10 = 150
    assert now.net_value.expected == pytest.approx(150.0)
    # the low end: least saved, most caused, the hourly end that hurts, fewest successes at 0
    assert now.net_value.low == pytest.approx((50 * 5 / 60 - 50 * 15 / 60) * 60)
    change = change_value(w, a)
    # the escalated 50 become autonomous: +5 h saved, -10 h caused, +10 successes x 10
    assert change.hours_saved.expected == pytest.approx(5.0)
    assert change.hours_caused.expected == pytest.approx(-10.0)
    assert change.net_value.expected == pytest.approx(15 * 50 + 100)
    assert change.net_value.low <= change.net_value.expected <= change.net_value.high


def _rate(value: float, half: float) -> Estimate:
    return Estimate(value, value - half, value + half)


def test_the_recommendation_pulls_back_on_any_shown_harm() -> None:
    r = recommend(
        verdict="overconfident",
        lift=(0.01, 0.02, 0.03),
        error_rate=_rate(0.45, 0.05),
        max_error_rate=0.3,
        escalated_success=None,
        escalation_max_success=0.3,
    )
    assert r.advice is Advice.PULL_BACK
    found = [e.finding for e in r.evidence]
    assert found[:2] == [Finding.OVERCONFIDENT, Finding.ERROR_RATE_ABOVE_TARGET]
    assert r.evidence[1].lower == pytest.approx(0.40) and r.evidence[1].target == 0.3
    worse = recommend(
        verdict="calibrated",
        lift=(-0.08, -0.05, -0.01),
        error_rate=_rate(0.1, 0.02),
        max_error_rate=0.3,
        escalated_success=None,
        escalation_max_success=0.3,
    )
    assert worse.advice is Advice.PULL_BACK
    assert worse.evidence[0].finding is Finding.WORSE_THAN_PEOPLE


def test_the_recommendation_expands_only_when_every_check_is_shown() -> None:
    good = dict(
        verdict="calibrated",
        lift=(0.01, 0.03, 0.05),
        error_rate=_rate(0.1, 0.05),
        max_error_rate=0.3,
        escalated_success=_rate(0.5, 0.1),
        escalation_max_success=0.3,
    )
    r = recommend(**good)  # type: ignore[arg-type]
    assert r.advice is Advice.EXPAND
    assert r.evidence[-1].finding is Finding.UNNECESSARY_ESCALATIONS
    for change, finding in (
        ({"verdict": "insufficient_data"}, Finding.NOT_CALIBRATED),
        ({"lift": (-0.01, 0.02, 0.05)}, Finding.LIFT_NOT_SHOWN),
        ({"lift": None}, Finding.NO_BASELINE),
        ({"error_rate": _rate(0.25, 0.1)}, Finding.ERROR_RATE_UNCERTAIN),
        ({"error_rate": Estimate(math.nan, math.nan, math.nan)}, Finding.NO_AUTONOMOUS_ACTIONS),
    ):
        held = recommend(**{**good, **change})  # type: ignore[arg-type]
        assert held.advice is Advice.HOLD, change
        assert held.evidence[0].finding is finding
    with pytest.raises(ValueError, match="max_error_rate must lie in"):
        recommend(**{**good, "max_error_rate": 1.2})  # type: ignore[arg-type]


# -- win probability ---------------------------------------------------------------------------


def _closed_deals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    stage = rng.integers(0, 5, n).astype(float)
    confidence = rng.uniform(0.05, 0.95, n)
    eta = -2.0 + 0.5 * stage + 1.2 * np.log(confidence / (1 - confidence))
    won = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    return stage, confidence, won


def test_the_logistic_win_model_equals_statsmodels() -> None:
    import statsmodels.api as sm

    stage, confidence, won = _closed_deals(400, 7)
    model = fit_win_model(stage=stage, confidence=confidence, won=won)
    assert model.method == "logistic"
    x = np.column_stack([np.ones_like(stage), stage, np.log(confidence / (1 - confidence))])
    glm = sm.GLM(won, x, family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(model.params, glm.params, rtol=1e-6)
    np.testing.assert_allclose(np.array(model.covariance), glm.cov_params(), rtol=1e-4)
    # the interval: statsmodels' on the linear predictor, through the logistic function
    p, method = win_probability(model, stage=3, confidence=0.6)
    row = np.array([[1.0, 3.0, math.log(0.6 / 0.4)]])
    frame = glm.get_prediction(row).summary_frame(alpha=0.05)
    assert method == "logistic"
    assert p.value == pytest.approx(float(frame["mean"].iloc[0]), rel=1e-6)
    assert p.lower == pytest.approx(float(frame["mean_ci_lower"].iloc[0]), rel=1e-4)
    assert p.upper == pytest.approx(float(frame["mean_ci_upper"].iloc[0]), rel=1e-4)


def test_a_deal_without_a_confidence_or_too_few_closed_deals_gets_the_stage_rate() -> None:
    stage, confidence, won = _closed_deals(400, 8)
    model = fit_win_model(stage=stage, confidence=confidence, won=won)
    p, method = win_probability(model, stage=4, confidence=None)
    reached = stage >= 4
    assert method == "stage_rate"
    assert p.value == pytest.approx((won[reached].sum() + 0.5) / (reached.sum() + 1))
    few = fit_win_model(stage=stage[:10], confidence=confidence[:10], won=won[:10])
    assert few.method == "stage_rate"
    with pytest.raises(ValueError, match="won must be 0 or 1"):
        fit_win_model(stage=[1], confidence=[0.5], won=[2])
    with pytest.raises(ValueError, match="confidence must lie in"):
        win_probability(model, stage=1, confidence=1.5)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=80),
    st.integers(1, 12),
)
def test_reliability_equals_scikit_learn(pairs: list[tuple[float, bool]], n_bins: int) -> None:
    p = np.array([a for a, _ in pairs])
    y = np.array([float(b) for _, b in pairs])
    r = reliability(p, y, n_bins=n_bins)
    assert r.brier == pytest.approx(brier_score_loss(y, p, pos_label=1), abs=1e-12)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    np.testing.assert_allclose([c.observed for c in r.curve], prob_true, atol=1e-12)
    np.testing.assert_allclose([c.mean_predicted for c in r.curve], prob_pred, atol=1e-12)
    ece = sum(c.count * abs(c.mean_predicted - c.observed) for c in r.curve) / len(p)
    assert r.ece == pytest.approx(ece)
    assert r.reference_brier == pytest.approx(brier_score_loss(y, np.full_like(p, y.mean())))


def test_cross_validated_reliability_predicts_each_deal_without_it() -> None:
    stage, confidence, won = _closed_deals(200, 9)
    r = cross_validated_reliability(stage=stage, confidence=confidence, won=won, folds=5)
    predicted = np.empty(200)
    for f in range(5):
        test = np.arange(200) % 5 == f
        model = fit_win_model(stage=stage[~test], confidence=confidence[~test], won=won[~test])
        for i in np.flatnonzero(test):
            predicted[i] = win_probability(model, stage=stage[i], confidence=confidence[i])[0].value
    assert r.closed == 200
    assert r.brier == pytest.approx(brier_score_loss(won, predicted))
    # the model knows something: better than always predicting the share won
    assert r.brier < r.reference_brier
