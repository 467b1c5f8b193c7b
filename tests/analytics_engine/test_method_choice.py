"""The method chosen by leave-one-out evidence: the bin-level leave-one-out equals refitting
without each outcome, the choice never loses to the identity, and it follows the data's shape."""

import doctest
import importlib
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit

from analytics_engine.calibration import CalibrationStats
from analytics_engine.method_choice import LOSS_EPS, choose_recalibration
from analytics_engine.pooling import fit_pooled_recalibration, group_prior
from analytics_engine.recalibration import fit_recalibration
from analytics_engine.step_histogram import step_histogram_map

GRID = (np.arange(20) + 0.5) / 20  # one confidence value per bin: a bin's mean never moves
SETTINGS = settings(max_examples=40, deadline=None)


def sample(truth: str, n: int, seed: int, *, grid: bool = False) -> CalibrationStats:
    rng = np.random.default_rng(seed)
    p = rng.choice(GRID, n) if grid else rng.random(n)
    q = expit(logit(p) / 2) if truth == "logistic" else np.where(p < 0.5, 0.25, 0.75)
    return CalibrationStats.from_arrays(p, (rng.random(n) < q).astype(float))


def brute_force_loo(p: np.ndarray, y: np.ndarray, method: str) -> float:
    """Refit the candidate (``fit_recalibration``, or ``step_histogram_map`` for the histogram)
    without each outcome in turn and score the left-out one."""
    total = 0.0
    for i in range(p.size):
        keep = np.arange(p.size) != i
        rest = CalibrationStats.from_arrays(p[keep], y[keep])
        if method == "histogram":
            m = step_histogram_map(rest)
        else:
            m = fit_recalibration(rest, method=method)  # type: ignore[arg-type]
        q = float(np.clip(m.apply(p[i]), LOSS_EPS, 1 - LOSS_EPS))
        total -= y[i] * math.log(q) + (1 - y[i]) * math.log(1 - q)
    return total / p.size


@pytest.mark.parametrize("method", ["identity", "platt", "isotonic", "histogram"])
@pytest.mark.parametrize(("n", "truth"), [(90, "logistic"), (120, "step"), (25, "step")])
def test_bin_level_leave_one_out_equals_refitting_without_each_outcome(
    method: str, n: int, truth: str
) -> None:
    # oracle: n refits on the raw outcomes less one; with 25 outcomes on 16 confidence values
    # some bins hold one outcome, which leaves its bin empty (the refitted map interpolates)
    rng = np.random.default_rng(11 + n)
    p = rng.choice(GRID[2:18], n)
    q = expit(logit(p) / 2) if truth == "logistic" else np.where(p < 0.5, 0.25, 0.75)
    y = (rng.random(n) < q).astype(float)
    choice = choose_recalibration(CalibrationStats.from_arrays(p, y))
    assert choice.loo_log_loss[method] == pytest.approx(brute_force_loo(p, y, method), rel=1e-6)


@pytest.mark.parametrize("method", ["isotonic", "histogram"])
@pytest.mark.parametrize("lone", [0.0, 1.0])
def test_a_lone_outcome_at_the_step_is_predicted_as_the_refit_map_would(
    method: str, lone: float
) -> None:
    # a clear step with one outcome in the bin between the two levels: left out, its bin is
    # empty and the refitted map interpolates between the neighbouring knots
    rng = np.random.default_rng(13)
    p = np.concatenate((np.repeat(GRID[2:9], 20), [GRID[9]], np.repeat(GRID[10:17], 20)))
    y = (rng.random(p.size) < np.where(p < GRID[9], 0.2, 0.8)).astype(float)
    y[140] = lone
    choice = choose_recalibration(CalibrationStats.from_arrays(p, y))
    assert choice.loo_log_loss[method] == pytest.approx(brute_force_loo(p, y, method), rel=1e-9)


def test_the_histogram_candidate_is_the_step_map() -> None:
    # the map chosen as "histogram" is step_histogram_map's: a few levels, constant on groups
    stats = sample("step", 1000, 4)
    choice = choose_recalibration(stats)
    assert choice.method == "histogram"
    assert choice.map == step_histogram_map(stats)
    assert choice.map.method == "histogram" and len(set(choice.map.ys)) <= 6


def test_pooled_leave_one_out_refits_under_the_same_prior() -> None:
    rng = np.random.default_rng(12)
    siblings = [sample("logistic", 1000, seed) for seed in range(6)]
    prior = group_prior(siblings)
    p = rng.choice(GRID[2:18], 40)
    y = (rng.random(40) < expit(logit(p) / 2)).astype(float)
    stats = CalibrationStats.from_arrays(p, y)
    pooled = fit_pooled_recalibration(stats, prior)
    assert pooled.source == "pooled"
    total = 0.0
    for i in range(p.size):  # oracle: the pooled fit without outcome i
        keep = np.arange(p.size) != i
        refit = fit_pooled_recalibration(CalibrationStats.from_arrays(p[keep], y[keep]), prior)
        q = float(np.clip(refit.map.apply(p[i]), LOSS_EPS, 1 - LOSS_EPS))
        total -= y[i] * math.log(q) + (1 - y[i]) * math.log(1 - q)
    choice = choose_recalibration(stats, pooled=pooled)
    assert choice.loo_log_loss["pooled"] == pytest.approx(total / p.size, rel=1e-6)


unit = st.floats(0.0, 1.0, allow_nan=False)
pairs = st.lists(st.tuples(unit, st.sampled_from([0.0, 1.0])), min_size=1, max_size=120)


@SETTINGS
@given(pairs)
def test_the_choice_never_loses_to_the_identity(data: list[tuple[float, float]]) -> None:
    p, y = (np.array(column) for column in zip(*data, strict=True))
    choice = choose_recalibration(CalibrationStats.from_arrays(p, y))
    assert choice.loo_log_loss[choice.method] <= choice.identity_log_loss
    assert choice.identity_log_loss == choice.loo_log_loss["identity"]
    assert np.all(np.diff(choice.map.apply(np.linspace(0, 1, 101))) >= 0)
    json.dumps(choice.to_dict())


@SETTINGS
@given(st.integers(0, 10_000), st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]))
def test_any_margin_keeps_the_identity_as_a_floor(seed: int, margin: float) -> None:
    stats = sample("step", 150, seed)
    choice = choose_recalibration(stats, margin_se=margin)
    assert choice.loo_log_loss[choice.method] <= choice.identity_log_loss
    if margin == 0.0:  # no margin: the smallest leave-one-out loss
        assert choice.loo_log_loss[choice.method] == min(
            v for v in choice.loo_log_loss.values() if not math.isnan(v)
        )


def test_the_choice_follows_the_shape_of_the_distortion() -> None:
    assert choose_recalibration(sample("logistic", 5000, 1)).method == "platt"
    step = choose_recalibration(sample("step", 5000, 2))
    assert step.method in ("isotonic", "histogram")
    assert step.loo_log_loss[step.method] < step.loo_log_loss["platt"]
    assert "leave-one-out" in step.reason


def test_a_step_is_recognised_after_a_few_hundred_outcomes() -> None:
    # 300 outcomes, 15 a bin: one rate per bin (isotonic) is noisy, a logistic curve does not
    # fit; two levels estimated from 150 outcomes each do, and beat Platt by more than 1 SE
    chosen = [choose_recalibration(sample("step", 300, seed)).method for seed in range(30, 40)]
    assert chosen.count("histogram") >= 7
    logistic = [choose_recalibration(sample("logistic", 300, s)).method for s in range(30, 40)]
    assert logistic.count("platt") >= 9


def test_the_pooled_map_is_offered_and_kept_for_a_young_agent() -> None:
    siblings = [sample("logistic", 1000, seed) for seed in range(10, 21)]
    stats = sample("logistic", 60, 22)
    pooled = fit_pooled_recalibration(stats, siblings)
    choice = choose_recalibration(stats, pooled=pooled)
    assert choice.method == "pooled" and choice.map == pooled.map
    assert math.isnan(choose_recalibration(stats).loo_log_loss["pooled"])


def test_no_outcomes() -> None:
    empty = CalibrationStats.empty()
    assert choose_recalibration(empty).method == "identity"
    siblings = [sample("logistic", 1000, seed) for seed in range(3)]
    pooled = fit_pooled_recalibration(empty, siblings)
    choice = choose_recalibration(empty, pooled=pooled)
    assert choice.method == "pooled" and choice.map == pooled.map


@pytest.mark.parametrize("y", [0.0, 1.0])
def test_one_outcome_leaves_none_to_refit_on_and_warns_nothing(y: float) -> None:
    """Left out, a lone outcome leaves no data: each refit is the prior's mean (the pooled
    candidate) or nothing to fit (Platt needs three bins), never a 0/0 rate (the suite turns
    numpy's warnings into errors)."""
    siblings = [sample("logistic", 1000, seed) for seed in range(4)]
    stats = CalibrationStats.from_arrays([0.8], [y])
    pooled = fit_pooled_recalibration(stats, siblings)
    with np.errstate(all="raise"):
        choice = choose_recalibration(stats, pooled=pooled)
    assert all(math.isfinite(v) for k, v in choice.loo_log_loss.items() if k != "platt")
    assert choice.method in ("pooled", "identity")


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="stats must be CalibrationStats"):
        choose_recalibration([0.5])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pooled must be PooledRecalibration"):
        choose_recalibration(CalibrationStats.empty(), pooled="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_levels"):
        choose_recalibration(CalibrationStats.empty(), max_levels=0)
    with pytest.raises(ValueError, match="margin_se"):
        choose_recalibration(CalibrationStats.empty(), margin_se=-1)


def test_docstring_examples() -> None:
    result = doctest.testmod(importlib.import_module("analytics_engine.method_choice"))
    assert result.attempted > 0 and result.failed == 0
