"""Coaching patterns: per-candidate statistics against statsmodels/scipy, BH, adjustment."""

import doctest

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from analytics_engine import coaching
from analytics_engine.coaching import EffectDirection, Measure, benjamini_hochberg, find_insights


def _actions(seed: int = 1, size: int = 4000) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    features = {
        "weekday": rng.choice(["Mon", "Tue", "Wed", "Thu", "Fri"], size=size),
        "hour_bucket": rng.choice(["8-10h", "10-12h", "12-14h", "14-18h"], size=size),
        "has_question": rng.random(size) < 0.4,
        "persona": rng.choice(["cfo", "cto", "ops"], size=size),
    }
    rate = 0.10 + 0.08 * (features["weekday"] == "Tue") + 0.05 * features["has_question"]
    return features, (rng.random(size) < rate).astype(float)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(coaching)
    assert result.attempted > 0 and result.failed == 0


def test_planted_effects_are_found_and_ranked_first() -> None:
    features, y = _actions()
    report = find_insights(features, y)
    found = {(insight.feature, insight.value) for insight in report.insights}
    assert ("weekday", "Tue") in found
    assert ("has_question", "True") in found
    assert ("has_question", "False") not in found  # a two-valued feature is one candidate
    assert report.insights[0].feature == "weekday" and report.insights[0].value == "Tue"
    top = report.insights[0]
    assert top.direction is EffectDirection.HIGHER and top.measure is Measure.SUCCESS_RATE
    assert top.difference > 0 and top.ci[0] > 0 and top.confidence_level == 0.95
    assert report.candidates_tested == 5 + 4 + 1 + 3
    assert report.sample_size == 4000
    assert all(insight.q_value <= 0.05 for insight in report.insights)


def test_candidate_statistics_match_statsmodels() -> None:
    features, y = _actions(seed=2)
    report = find_insights(features, y, fdr=1.0, max_insights=100, adjust_for_action_type=False)
    assert len(report.insights) == report.candidates_tested
    for insight in report.insights:
        in_group = np.asarray(features[insight.feature]).astype(str) == insight.value
        x1, n1 = y[in_group].sum(), in_group.sum()
        x0, n0 = y[~in_group].sum(), (~in_group).sum()
        assert insight.test == "two_proportion_z"
        # oracles: statsmodels proportions_ztest and confint_proportions_2indep(newcomb)
        assert insight.p_value == pytest.approx(proportions_ztest([x1, x0], [n1, n0])[1])
        ref = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb")
        np.testing.assert_allclose(insight.ci, ref, atol=1e-12)
        assert insight.support == n1 and insight.rate == pytest.approx(x1 / n1)
        assert insight.lift == pytest.approx((x1 / n1) / (x0 / n0))
        assert insight.difference == pytest.approx(x1 / n1 - x0 / n0)
        assert insight.direction is (
            EffectDirection.HIGHER if insight.difference > 0 else EffectDirection.LOWER
        )
    p_values = np.array([insight.p_value for insight in report.insights])
    q_values = np.array([insight.q_value for insight in report.insights])
    np.testing.assert_allclose(q_values, multipletests(p_values, method="fdr_bh")[1])


def test_small_expected_counts_use_fishers_exact_test() -> None:
    rng = np.random.default_rng(3)
    segment = np.repeat(["small", "large"], [40, 960])
    y = np.zeros(1000)
    y[:4] = 1.0
    y[40 + rng.choice(960, size=6, replace=False)] = 1.0
    report = find_insights({"segment": segment}, y, fdr=1.0, min_support=30)
    (insight,) = report.insights
    assert insight.test == "fisher_exact" and insight.value == "small"
    assert insight.p_value == pytest.approx(stats.fisher_exact([[4, 36], [6, 954]]).pvalue)


def test_fractional_outcomes_use_welch() -> None:
    rng = np.random.default_rng(4)
    stage = rng.choice(["discovery", "proposal", "negotiation"], size=900)
    y = np.clip(rng.normal(0.5 + 0.1 * (stage == "proposal"), 0.2), 0, 1)
    report = find_insights({"deal_stage": stage}, y, fdr=1.0)
    top = next(i for i in report.insights if i.value == "proposal")
    in_group = stage == "proposal"
    # oracle: scipy Welch t-test and its confidence interval
    ref = stats.ttest_ind(y[in_group], y[~in_group], equal_var=False)
    assert top.test == "welch_t" and top.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    interval = ref.confidence_interval(0.95)
    np.testing.assert_allclose(top.ci, (interval.low, interval.high), rtol=1e-9)
    assert top.measure is Measure.MEAN_OUTCOME and top.direction is EffectDirection.HIGHER


def test_adjusting_for_action_type_removes_a_confounded_pattern() -> None:
    rng = np.random.default_rng(5)
    size = 3000
    action_type = rng.choice(["email", "meeting"], size=size)
    # persona "cfo" is mostly targeted by meetings, which succeed more: a confounded pattern
    cfo = rng.random(size) < np.where(action_type == "meeting", 0.6, 0.1)
    persona = np.where(cfo, "cfo", rng.choice(["cto", "ops"], size=size))
    y = (rng.random(size) < np.where(action_type == "meeting", 0.4, 0.1)).astype(float)
    report = find_insights({"persona": persona}, y, action_type=action_type)
    insight = next(i for i in report.insights if i.value == "cfo")
    assert insight.difference > 0.1 and insight.q_value < 1e-6
    assert insight.adjusted_p_value is not None and insight.adjusted_p_value > 0.01
    # oracle: statsmodels Logit with the same covariates
    design = np.column_stack([np.ones(size), action_type == "meeting", persona == "cfo"])
    fit = sm.Logit(y, design.astype(float)).fit(disp=0)
    assert insight.adjusted_odds_ratio == pytest.approx(np.exp(fit.params[2]), rel=1e-6)
    assert insight.adjusted_p_value == pytest.approx(fit.pvalues[2], rel=1e-6)


def test_adjustment_is_none_when_the_feature_is_the_action_type() -> None:
    features, y = _actions(seed=6)
    action_type = np.where(features["weekday"] == "Tue", "call", "email")
    report = find_insights({"weekday": features["weekday"]}, y, action_type=action_type)
    tuesday = next(i for i in report.insights if i.value == "Tue")
    assert tuesday.adjusted_odds_ratio is None and tuesday.adjusted_p_value is None


def test_min_support_and_max_insights_limit_the_output() -> None:
    features, y = _actions(seed=7, size=600)
    report = find_insights(features, y, min_support=200, fdr=1.0, max_insights=2)
    assert len(report.insights) <= 2
    assert all(i.support >= 200 and 600 - i.support >= 200 for i in report.insights)
    assert find_insights({"x": np.zeros(600)}, y).candidates_tested == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"y": [0.0, 2.0]}, "y has values"),
        ({"y": [np.nan, 1.0]}, "y has values"),
        ({"y": []}, "y must be"),
        ({"features": {}}, "features"),
        ({"features": {"f": ["a"]}}, "feature 'f'"),
        ({"features": {"f": [1.0, np.nan]}}, "feature 'f' contains NaN"),
        ({"min_support": 1}, "min_support"),
        ({"fdr": 0.0}, "fdr"),
        ({"max_insights": 0}, "max_insights"),
        ({"alpha": 1.0}, "alpha"),
        ({"action_type": ["a"]}, "action_type"),
    ],
)
def test_bad_input_raises_naming_the_argument(arguments, message) -> None:
    call = {"features": {"f": ["a", "b"]}, "y": [0.0, 1.0], **arguments}
    with pytest.raises(ValueError, match=message):
        find_insights(call.pop("features"), call.pop("y"), **call)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 40), elements=st.floats(0, 1)))
def test_benjamini_hochberg_matches_statsmodels_and_is_monotone(p_values) -> None:
    q_values = benjamini_hochberg(p_values)
    np.testing.assert_allclose(q_values, multipletests(p_values, method="fdr_bh")[1])
    assert (q_values >= p_values).all() and (q_values <= 1).all()
    order = np.argsort(p_values, kind="stable")
    assert (np.diff(q_values[order]) >= 0).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), fractional=st.booleans())
def test_insight_fields_are_bounded(seed: int, fractional: bool) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(60, 400))
    features = {"a": rng.integers(0, 4, size), "b": rng.choice(["x", "y"], size)}
    y = rng.random(size) if fractional else (rng.random(size) < 0.3).astype(float)
    report = find_insights(features, y, fdr=1.0, min_support=10, max_insights=50)
    assert len(report.insights) == report.candidates_tested
    for insight in report.insights:
        assert 0 <= insight.rate <= 1 and 0 <= insight.rest_rate <= 1
        assert insight.ci[0] <= insight.difference + 1e-12 <= insight.ci[1] + 2e-12
        assert insight.measure is (Measure.MEAN_OUTCOME if fractional else Measure.SUCCESS_RATE)
        assert (insight.direction is EffectDirection.HIGHER) == (insight.difference > 0)
        assert 0 <= insight.p_value <= insight.q_value <= 1
        assert insight.support >= 10 and size - insight.support >= 10


@settings(max_examples=30, deadline=None)
@given(
    bad=st.one_of(st.floats(max_value=-1e-6), st.floats(min_value=1.000001), st.just(float("nan")))
)
def test_outcomes_outside_unit_interval_always_raise(bad: float) -> None:
    with pytest.raises(ValueError, match="y has values"):
        find_insights({"f": ["a", "b", "a"]}, [0.0, bad, 1.0])


# -- compare_samples: one sample against another (the follow-up of an acted-on insight) -------


@given(
    x1=st.integers(0, 200),
    extra1=st.integers(2, 200),
    x0=st.integers(0, 200),
    extra0=st.integers(2, 200),
)
@settings(max_examples=60, deadline=None)
def test_compare_samples_binary_matches_statsmodels(
    x1: int, extra1: int, x0: int, extra0: int
) -> None:
    n1, n0 = x1 + extra1, x0 + extra0
    after = np.r_[np.ones(x1), np.zeros(n1 - x1)]
    before = np.r_[np.ones(x0), np.zeros(n0 - x0)]
    result = coaching.compare_samples(after, before)
    assert result.measure is Measure.SUCCESS_RATE
    assert (result.n, result.baseline_n) == (n1, n0)
    assert result.difference == pytest.approx(x1 / n1 - x0 / n0)
    # statsmodels is the oracle of the Newcombe interval (Newcombe 1998, method 10).
    lower, upper = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb")
    assert result.ci == pytest.approx((lower, upper), abs=1e-9)
    pooled = (x1 + x0) / (n1 + n0)
    expected = np.array([n1 * pooled, n1 * (1 - pooled), n0 * pooled, n0 * (1 - pooled)])
    if expected.min() >= 5:
        assert result.test == "two_proportion_z"
        assert result.p_value == pytest.approx(proportions_ztest([x1, x0], [n1, n0])[1])
    else:
        assert result.test == "fisher_exact"
        table = [[x1, n1 - x1], [x0, n0 - x0]]
        assert result.p_value == pytest.approx(stats.fisher_exact(table).pvalue)


def test_compare_samples_graded_is_welch_as_scipy() -> None:
    rng = np.random.default_rng(7)
    after, before = rng.beta(3, 2, size=80), rng.beta(2, 2, size=120)
    result = coaching.compare_samples(after, before, alpha=0.1)
    welch = stats.ttest_ind(after, before, equal_var=False)
    interval = welch.confidence_interval(confidence_level=0.9)
    assert (result.test, result.measure) == ("welch_t", Measure.MEAN_OUTCOME)
    assert result.p_value == pytest.approx(welch.pvalue)
    assert result.ci == pytest.approx((interval.low, interval.high))
    assert result.confidence_level == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("y", "baseline", "message"),
    [
        ([1.0], [0.0, 1.0], "y must be one-dimensional with at least 2"),
        ([0.0, 1.0], [0.0, 2.0], "baseline has values outside"),
    ],
)
def test_compare_samples_rejects_bad_input(y, baseline, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        coaching.compare_samples(y, baseline)
