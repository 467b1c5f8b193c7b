"""The simulated daily reply series of bench/alert_quality.py and the alert state it models:
the week's volume and rates, calibrated confidences, and alerts opened as backend/alerts/state.py
opens them (hysteresis, hold)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_engine import monitoring_simulation as sim
from analytics_engine.alert_judgement import judge_rate_rule, judge_rate_threshold
from analytics_engine.monitoring_simulation import SeriesRule, Traffic

START = np.datetime64("2024-01-01")  # a Monday


def test_weekdays_and_working_days() -> None:
    days = START + np.arange(14)
    assert sim.weekday_of(days).tolist() == [0, 1, 2, 3, 4, 5, 6] * 2
    # from Wednesday: Wednesday itself is 1, the next Monday (day 7) is the 4th working day
    assert sim.working_days_between(days, 2, np.array([2, 4, 6, 7, 13])).tolist() == [1, 3, 3, 4, 8]


def test_traffic_spreads_its_volume_and_rate_over_the_week() -> None:
    traffic = Traffic(80.0)
    per_weekday = traffic.weekday_trials()
    assert per_weekday.sum() == pytest.approx(7 * 80.0)
    assert per_weekday[5] / per_weekday[0] == pytest.approx(sim.WEEKDAY_VOLUME[5])
    mean_p = traffic.mean_confidence(traffic.weekday_logits())
    assert per_weekday @ mean_p / per_weekday.sum() == pytest.approx(0.115, abs=1e-9)
    assert mean_p[1] > mean_p[0] > mean_p[4] > mean_p[5]  # Tuesday best, weekends worst


def test_a_calibrated_agent_replies_as_often_as_it_says() -> None:
    series = sim.simulate_days(
        np.random.default_rng(4), Traffic(220.0), start=START, reply_factor=np.ones(120)
    )
    stated = series.calibration[:, 1].sum()  # sum of p
    replies = series.calibration[:, 3].sum()  # sum of y
    assert series.calibration[:, 0].sum() == series.trials.sum() == pytest.approx(26_400, rel=0.02)
    assert series.successes.sum() == replies
    # Poisson-binomial: sd = sqrt(sum p(1 - p)) is about 50 replies here
    assert abs(replies - stated) < 4 * np.sqrt(stated * 0.885)
    assert series.successes.sum() / series.trials.sum() == pytest.approx(0.115, abs=0.005)


def test_reply_and_confidence_factors_change_what_they_say() -> None:
    drop = np.where(np.arange(120) >= 60, 0.7, 1.0)
    rng = np.random.default_rng(5)
    known = sim.simulate_days(
        rng, Traffic(220.0), start=START, reply_factor=drop, confidence_factor=drop
    )
    unknown = sim.simulate_days(rng, Traffic(220.0), start=START, reply_factor=drop)
    for series, gap in ((known, 0.0), (unknown, 0.3 * 0.115)):
        after = series.calibration[60:].sum(axis=0)
        rate = series.successes[60:].sum() / series.trials[60:].sum()
        assert rate == pytest.approx(0.7 * 0.115, abs=0.006)
        assert (after[1].sum() - after[3].sum()) / after[0].sum() == pytest.approx(gap, abs=0.006)
    with pytest.raises(ValueError, match="confidence_factor"):
        sim.simulate_days(
            rng, Traffic(1.0), start=START, reply_factor=drop, confidence_factor=drop[:5]
        )


def _opened(holds: str, cleared: str | None = None, judged: str | None = None, **kw) -> list:
    h = np.array([c == "H" for c in holds])
    c = ~h if cleared is None else np.array([ch == "c" for ch in cleared])
    j = np.ones(h.size, bool) if judged is None else np.array([ch == "j" for ch in judged])
    return sim.alert_openings(j, h, c, **kw).nonzero()[0].tolist()


def test_alert_openings_follow_the_alert_state() -> None:
    # one cleared day is not enough to resolve after a 24 h hold: H.H is one alert
    assert _opened("H.H") == [0]
    assert _opened("H..H") == [0, 3]  # cleared on days 1 and 2: resolved on day 2
    assert _opened("H..H", hold_days=0) == [0, 2 + 1]
    assert _opened("H.H", hold_days=0) == [0, 2]
    assert _opened("H...H", hold_days=2) == [0, 4]
    assert _opened("H...H", hold_days=3) == [0]
    # inside the band (neither holding nor cleared) the clearance restarts
    assert _opened("H.b.H", cleared=".c.c.") == [0]
    assert _opened("H.b..H", cleared=".c.cc.") == [0, 5]
    # days not judged (too few trials) change nothing: no cleared judgement after the hold
    # resolved it, so day 3 refreshes the open alert; the hold counts calendar days
    assert _opened("H..H", judged="jj.j") == [0]
    assert _opened("H.-.H", judged="jj.jj") == [0, 4]
    assert _opened("....") == []
    with pytest.raises(ValueError, match="same shape"):
        sim.alert_openings(np.ones(3, bool), np.ones(2, bool), np.ones(3, bool))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from("Hcb-"), max_size=40), st.integers(0, 3))
def test_alerts_open_only_on_holding_days_and_never_twice_in_a_row(days, hold_days) -> None:
    holds = np.array([d == "H" for d in days], bool)
    cleared = np.array([d == "c" for d in days], bool)
    judged = np.array([d != "-" for d in days], bool)
    opened = sim.alert_openings(judged, holds, cleared, hold_days=hold_days)
    assert not (opened & ~holds).any()
    assert opened.sum() <= max(holds.sum(), 0)
    if holds.any():
        assert opened[np.flatnonzero(holds)[0]]  # the first holding day opens one
    # never more openings than runs of holding days
    runs = np.count_nonzero(holds[1:] & ~holds[:-1]) + int(holds[:1].any())
    assert opened.sum() <= runs


def _dropping(
    seed: int, per_day: float, *, days: int, change: int, factor: float
) -> sim.SimulatedDays:
    """A series whose replies fall to ``factor`` of their rate from day ``change`` on."""
    return sim.simulate_days(
        np.random.default_rng(seed),
        Traffic(per_day),
        start=START,
        reply_factor=np.where(np.arange(days) >= change, factor, 1.0),
    )


def test_judge_every_day_judges_as_the_worker_does() -> None:
    series = _dropping(6, 80.0, days=140, change=110, factor=0.5)
    rules = [
        SeriesRule("low", "threshold", "below", 7, 0.09),
        SeriesRule("drift", "drift", "below", 7),
        SeriesRule("calibration", "calibration_error", "above", 14, 0.03),
    ]
    traces = sim.judge_every_day(series, rules, first=100, last=139)
    for t in (100, 115, 130):
        threshold = judge_rate_threshold(
            series.days[: t + 1],
            series.trials[: t + 1],
            series.successes[: t + 1],
            direction="below",
            threshold=0.09,
            window_days=7,
        )
        assert threshold is not None and traces["low"].holds[t] == threshold.holds
        drift = judge_rate_rule(
            series.days,
            series.trials,
            series.successes,
            kind="drift",
            direction="below",
            window_days=7,
            as_of=series.days[t],
        )
        assert drift is not None and traces["drift"].holds[t] == drift.holds
    assert not traces["low"].judged[:100].any()
    # the halved replies are found, with evidence from the change on
    assert (traces["drift"].evidence[110:] >= 110).any()
    assert (traces["low"].evidence[110:] >= 110).any()
    # the agent's confidence did not follow: its calibration error shows it
    assert traces["calibration"].holds[125:].all()


def test_judging_stops_once_every_rule_has_held_since_the_change() -> None:
    series = _dropping(7, 220.0, days=150, change=100, factor=0.3)
    rules = [SeriesRule("low", "threshold", "below", 3, 0.09)]
    traces = sim.judge_every_day(series, rules, first=100, last=149, stop_once_all_held_since=100)
    held = np.flatnonzero(traces["low"].evidence >= 100)
    assert held.size == 1 and not traces["low"].judged[held[0] + 1 :].any()
