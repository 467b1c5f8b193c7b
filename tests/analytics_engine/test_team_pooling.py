"""The team-level prior: it leans toward the agent's team when teams differ, equals the
organisation's when they do not, and predicts by generalised least squares as a direct
computation does."""

import doctest
import importlib

import numpy as np
import pytest
from scipy.special import expit, logit

from analytics_engine.calibration import CalibrationStats
from analytics_engine.pooling import fit_pooled_recalibration, group_prior
from analytics_engine.team_pooling import team_prior


def agents(
    temperatures: list[float], per_team: int, seed: int, spread: float = 0.05
) -> tuple[list[CalibrationStats], list[int]]:
    rng = np.random.default_rng(seed)
    stats, labels = [], []
    for team, centre in enumerate(temperatures):
        for _ in range(per_team):
            t = centre * np.exp(spread * rng.standard_normal())
            p = rng.random(1000)
            y = (rng.random(1000) < expit(logit(p) / t)).astype(float)
            stats.append(CalibrationStats.from_arrays(p, y))
            labels.append(team)
    return stats, labels


def test_the_prior_leans_toward_the_agents_team_when_teams_differ() -> None:
    stats, labels = agents([1.25, 2.0, 4.0], 4, 1)
    org = group_prior(stats)
    assert org is not None
    for team, slope in enumerate([0.8, 0.5, 0.25]):
        prior = team_prior(stats, labels, team)
        assert prior is not None and prior.n_agents == 12
        assert abs(prior.mean[1] - slope) < 0.06
        if team != 1:  # the middle team's slope is the organisation's too
            assert abs(prior.mean[1] - slope) < abs(org.mean[1] - slope)
        # the team's agents agree, so the prior is tighter than the organisation's
        assert prior.between[1, 1] < org.between[1, 1]


def test_alike_teams_give_the_organisations_prior() -> None:
    stats, labels = agents([2.0, 2.0, 2.0], 4, 2, spread=0.15)
    org = group_prior(stats)
    prior = team_prior(stats, labels, 0)
    assert org is not None and prior is not None
    np.testing.assert_allclose(prior.mean, org.mean, atol=0.03)


def test_an_agent_of_a_new_team_gets_the_organisations_mean_with_the_team_spread() -> None:
    stats, labels = agents([1.25, 2.0, 4.0], 4, 3)
    member = team_prior(stats, labels, 0)
    stranger = team_prior(stats, labels, "a new team")
    assert member is not None and stranger is not None
    assert stranger.between[1, 1] > member.between[1, 1]
    assert 0.3 < stranger.mean[1] < 0.7  # between the teams' slopes


def test_the_agent_is_pooled_toward_its_team() -> None:
    stats, labels = agents([1.25, 2.0, 4.0], 4, 4)
    rng = np.random.default_rng(5)
    p = rng.random(60)
    own = CalibrationStats.from_arrays(p, (rng.random(60) < expit(logit(p) / 4.0)).astype(float))
    by_team = fit_pooled_recalibration(own, team_prior(stats, labels, 2))
    by_org = fit_pooled_recalibration(own, group_prior(stats))
    assert by_team.source == "pooled"
    assert abs(by_team.map.slope - 0.25) < abs(by_org.map.slope - 0.25)


def test_bad_arguments_are_named() -> None:
    stats, labels = agents([2.0], 3, 6)
    with pytest.raises(ValueError, match="one label per sibling"):
        team_prior(stats, labels[:2], 0)
    with pytest.raises(ValueError, match="min_between_sd"):
        team_prior(stats, labels, 0, min_between_sd=0)
    assert team_prior(stats[:1], labels[:1], 0) is None


def test_docstring_examples() -> None:
    result = doctest.testmod(importlib.import_module("analytics_engine.team_pooling"))
    assert result.attempted > 0 and result.failed == 0
