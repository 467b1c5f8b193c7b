"""The dead-band policy rule: a hand-worked bet, the bettors' fair game checked exactly over
every outcome path, outcomes inside the band never moving the threshold (a guarantee, for any
stream), batches equal to outcomes one by one, moves only at the evidence level, reversals
flagged, bounds, and steady agents that never move."""

import doctest
import importlib
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_engine.policy_band import BandRule, BandState, policy_move

RULE = BandRule(target=0.3, margin=0.05, width=0.15, step=0.05, alpha=0.01)
UNREACHABLE = BandRule(target=0.3, alpha=1e-9)  # 10 outcomes cannot reach 1e9: no move
unit = st.floats(0.0, 1.0, allow_nan=False)


def test_doctests() -> None:
    result = doctest.testmod(importlib.import_module("analytics_engine.policy_band"))
    assert result.attempted > 0 and result.failed == 0


def test_four_failures_by_hand() -> None:
    # Raise payoff x = (0.3 − 0.05) − 0 = 0.25 each; sums discounted by γ = 0.5 ** (1/50),
    # one pseudo-outcome of variance 1/4. Before outcome t the bettor has count c = 1 + Σγ^k,
    # mean m = Σγ^k x / c and variance v = (Σγ^k x² + 1/4)/c − m²; it stakes
    # λ = m/(v + m²), capped at 0.5/(1 − 0.25) = 2/3, only if m > sqrt(v/c).
    g = 0.5 ** (1 / 50)
    wealth, path = 1.0, []
    for t in range(4):
        weights = g ** np.arange(1, t + 1)  # the past outcomes, discounted once more
        c = 1 + weights.sum()
        m = 0.25 * weights.sum() / c
        v = (0.0625 * weights.sum() + 0.25) / c - m * m
        stake = min(m / (v + m * m), 2 / 3) if m > math.sqrt(v / c) else 0.0
        wealth *= 1 + stake * 0.25
        path.append(wealth)
    # outcome 1: no past (m = 0); 2: m = 0.124 < 0.267; 3: m = 0.166 < 0.182 (the gate stays
    # shut); 4: m = 0.186 > 0.139, λ = m/(v + m²) ≈ 0.75, capped at 2/3: wealth 7/6
    assert path[:3] == [1.0, 1.0, 1.0] and path[3] == pytest.approx(7 / 6)
    state, moves = policy_move(BandState(0.3), [0.3] * 4, [0.0] * 4, rule=RULE)
    assert moves == ()
    assert state.e_value("raise") == pytest.approx(7 / 6)
    assert state.e_value("lower") == 1.0  # its payoff 0 − 0.35 is negative: it never stakes
    assert state.n == pytest.approx(1 + g + g**2 + g**3)


@pytest.mark.parametrize(("rate", "exact"), [(0.25, True), (0.3, False)])
def test_the_raise_bettor_is_a_fair_game_at_the_band_edge(rate: float, exact: bool) -> None:
    # Every path of 10 outcomes near the threshold, weighted by its probability under a success
    # rate of 0.25 (the band's lower edge: a martingale, E = 1) or 0.3 (inside: E ≤ 1).
    expected = 0.0
    for path in itertools.product([0.0, 1.0], repeat=10):
        y = np.array(path)
        probability = float(np.prod(np.where(y == 1, rate, 1 - rate)))
        state, moves = policy_move(BandState(0.3), np.full(10, 0.3), y, rule=UNREACHABLE)
        assert moves == ()
        expected += probability * state.e_value("raise")
    if exact:
        assert expected == pytest.approx(1.0, rel=1e-12)
    else:
        assert expected <= 1.0 + 1e-12


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(unit, st.floats(0.25, 0.35)), min_size=1, max_size=300),
    st.floats(0.2, 0.8),
)
def test_outcomes_inside_the_band_never_move_the_threshold(
    data: list[tuple[float, float]], start: float
) -> None:
    # A guarantee, not a probability: when every outcome read at the threshold (z = y − p + θ)
    # is inside the band, both payoffs are ≤ 0 and the stakes ≥ 0, so no bettor's wealth ever
    # exceeds 1. Confidences anywhere (those outside the window are ignored), y = z + p − θ.
    u, z = (np.array(column) for column in zip(*data, strict=True))
    p = np.clip(start + (2 * u - 1) * 0.3, 0.0, 1.0)
    y = np.clip(z + p - start, 0.0, 1.0)
    inside = np.abs(p - start) <= RULE.width
    assert np.all(y[inside] - p[inside] + start >= 0.25 - 1e-12)
    state, moves = policy_move(BandState(start), p, y, rule=RULE)
    assert moves == () and state.threshold == start
    assert state.e_value("raise") <= 1.0 + 1e-12 and state.e_value("lower") <= 1.0 + 1e-12


rates = st.sampled_from([0.05, 0.3, 0.6])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), rates, rates, st.integers(1, 400))
def test_a_batch_equals_its_outcomes_one_by_one(
    seed: int, first: float, second: float, cut: int
) -> None:
    rng = np.random.default_rng(seed)
    p = 0.2 + 0.2 * rng.random(600)
    y = (rng.random(600) < np.where(np.arange(600) < 300, first, second)).astype(float)
    whole, moves = policy_move(BandState(0.3), p, y, rule=RULE)
    single, singles = BandState(0.3), []
    for i in range(p.size):
        single, m = policy_move(single, p[i], y[i], rule=RULE)
        singles += [(x.direction, x.after, i + 1) for x in m]
    assert [(x.direction, x.after, x.outcome) for x in moves] == singles
    split, _ = policy_move(BandState(0.3), p[:cut], y[:cut], rule=RULE)
    split, _ = policy_move(split, p[cut:], y[cut:], rule=RULE)
    for state in (single, split):
        assert state.threshold == whole.threshold and state.last_move == whole.last_move
        assert state.raise_log_wealth == pytest.approx(whole.raise_log_wealth, abs=1e-9)
        assert state.lower_log_wealth == pytest.approx(whole.lower_log_wealth, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(rates, min_size=1, max_size=6))
def test_moves_need_the_full_evidence_and_reversals_are_flagged(
    seed: int, phases: list[float]
) -> None:
    rng = np.random.default_rng(seed)
    rate = np.repeat(phases, 400)
    p = rng.random(rate.size)
    y = (rng.random(rate.size) < rate).astype(float)
    _, moves = policy_move(BandState(0.5), p, y, rule=RULE)
    previous = None
    for move in moves:
        assert move.e_value >= 1 / RULE.alpha * (1 - 1e-12)  # the same level either way
        assert move.reversal == (previous is not None and previous != move.direction)
        moved = abs(move.after - move.before)
        at_bound = move.after in (RULE.lower_bound, RULE.upper_bound)
        assert moved == pytest.approx(RULE.step) or (at_bound and 0 < moved < RULE.step)
        previous = move.direction


def test_steady_agents_at_their_target_never_move() -> None:
    rng = np.random.default_rng(20261207)
    for _ in range(200):
        p = rng.random(5000)
        _, moves = policy_move(BandState(0.3), p, (rng.random(5000) < 0.3).astype(float), rule=RULE)
        assert moves == ()


def test_a_clear_change_moves_it_the_right_way() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(4000)
    raised, up = policy_move(BandState(0.3), p, (rng.random(4000) < 0.1).astype(float), rule=RULE)
    lowered, down = policy_move(
        BandState(0.3), p, (rng.random(4000) < 0.6).astype(float), rule=RULE
    )
    assert up and all(m.direction == "raise" for m in up) and raised.last_move == "raise"
    assert down and all(m.direction == "lower" for m in down) and lowered.threshold < 0.3


def test_outcomes_outside_the_window_and_moves_beyond_the_bounds_are_ignored() -> None:
    far, moves = policy_move(BandState(0.3), [0.9] * 100, [0.0] * 100, rule=RULE)
    assert moves == () and far == BandState(0.3)
    top, moves = policy_move(BandState(0.99), [0.95] * 500, [0.0] * 500, rule=RULE)
    assert moves == () and top.threshold == 0.99 and top.e_value("raise") > 100


def test_state_round_trip_and_validation() -> None:
    state, _ = policy_move(BandState(0.3, last_move="raise"), [0.3, 0.35], [1.0, 0.0], rule=RULE)
    assert BandState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    with pytest.raises(ValueError, match="target ± margin"):
        BandRule(target=0.02, margin=0.05)
    with pytest.raises(ValueError, match="alpha"):
        BandRule(target=0.3, alpha=1.0)
    with pytest.raises(ValueError, match="threshold must be"):
        BandState(1.5)
    with pytest.raises(ValueError, match="y has values outside"):
        policy_move(BandState(0.3), [0.3], [math.nan], rule=RULE)
    with pytest.raises(ValueError, match="same length"):
        policy_move(BandState(0.3), [0.3, 0.4], [1.0], rule=RULE)


def test_a_calibrated_agent_whose_confidences_crowd_one_side_stays() -> None:
    # Confidences ~ Beta(4, 2) crowd the window's upper half: the raw success rate of the
    # outcomes within 0.2 of 0.3 is about 0.39, above the band (0.25, 0.35), but the agent is
    # calibrated, so read at the threshold (y − p + 0.3) its rate is 0.3 and nothing moves.
    rule = BandRule(target=0.3, width=0.2)
    rng = np.random.default_rng(7)
    for _ in range(50):
        p = rng.beta(4.0, 2.0, 20_000)
        y = (rng.random(p.size) < p).astype(float)
        near = np.abs(p - 0.3) <= rule.width
        assert y[near].mean() > 0.37
        _, moves = policy_move(BandState(0.3), p, y, rule=rule)
        assert moves == ()


def test_a_window_wider_than_the_band_allows_is_refused() -> None:
    with pytest.raises(ValueError, match="width"):
        BandRule(target=0.02, margin=0.01, width=0.05)
