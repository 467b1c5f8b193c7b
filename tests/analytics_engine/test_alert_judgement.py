"""Alert rules judging a daily rate series: thresholds pooled over their window with a
hysteresis band, anomaly and drift rules on the detector's findings in their window."""

import datetime as dt
import doctest
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_engine import alert_judgement
from analytics_engine.alert_judgement import (
    HISTORY_DAYS,
    default_clear_threshold,
    judge_findings,
    judge_rate_rule,
    judge_rate_threshold,
    judge_threshold_value,
    rate_findings,
)
from analytics_engine.anomalies import RateAnomaly, detect_rate_anomalies

START = np.datetime64("2024-01-01")  # a Monday
DAYS = np.arange(START, START + 150)
WEEKDAY = (DAYS.astype(np.int64) + 3) % 7


def _steady(seed: int, rate: float = 0.115) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    trials = rng.poisson(np.where(WEEKDAY >= 5, 25, 300))
    return trials, rng.binomial(trials, rate)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(alert_judgement)
    assert result.attempted > 0 and result.failed == 0


def test_a_hand_worked_threshold() -> None:
    # 7 days of 100 e-mails: 8+7+6+5+6+7+8 = 47 replies, 6.7 % pooled. Below 7 %: it holds.
    days = DAYS[:10]
    trials = np.full(10, 100)
    successes = np.array([30, 30, 30, 8, 7, 6, 5, 6, 7, 8])
    judged = judge_rate_threshold(
        days, trials, successes, direction="below", threshold=0.07, window_days=7
    )
    assert judged is not None
    assert (judged.holds, judged.cleared) == (True, False)
    assert judged.observed == pytest.approx(47 / 700) and judged.n == 700
    assert judged.expected == 0.07 and judged.clear_threshold == pytest.approx(0.077)
    assert (judged.window_start, judged.window_end) == (dt.date(2024, 1, 4), dt.date(2024, 1, 10))
    # Two days earlier the window held a day at 30 %: 30+8+7+6+5+6+7 = 69, 9.9 %.
    earlier = judge_rate_threshold(
        days, trials, successes, direction="below", threshold=0.07, window_days=7, as_of=days[8]
    )
    assert earlier is not None and earlier.observed == pytest.approx(69 / 700)
    assert (earlier.holds, earlier.cleared) == (False, True)
    # 6.5 % to 7.7 % is the band: neither holding nor cleared (52 / 700 = 7.4 %)
    band = judge_threshold_value(52 / 700, 700, direction="below", threshold=0.07)
    assert band is not None and (band.holds, band.cleared) == (False, False)


def test_days_after_as_of_and_outside_the_window_are_ignored() -> None:
    trials, successes = _steady(1)
    as_of = DAYS[100]
    judged = judge_rate_threshold(
        DAYS, trials, successes, direction="below", threshold=0.1, window_days=14, as_of=as_of
    )
    assert judged is not None
    inside = slice(87, 101)
    assert judged.n == trials[inside].sum()
    assert judged.observed == pytest.approx(successes[inside].sum() / trials[inside].sum())


def test_under_min_trials_a_threshold_is_not_judged() -> None:
    days = DAYS[:3]
    assert (
        judge_rate_threshold(
            days, [5, 6, 8], [0, 0, 0], direction="below", threshold=0.1, window_days=3
        )
        is None
    )
    assert judge_threshold_value(float("nan"), 500, direction="above", threshold=0.05) is None
    judged = judge_rate_threshold(
        days, [5, 7, 8], [0, 0, 0], direction="below", threshold=0.1, window_days=3
    )
    assert judged is not None and judged.holds  # 20 trials: judged


def test_default_clear_threshold_is_ten_percent_back_on_the_good_side() -> None:
    assert default_clear_threshold(0.06, "below") == pytest.approx(0.066)
    assert default_clear_threshold(0.05, "above") == pytest.approx(0.045)
    assert default_clear_threshold(40.0, "above") == pytest.approx(36.0)
    judged = judge_threshold_value(
        0.058, 100, direction="above", threshold=0.06, clear_threshold=0.05
    )
    assert judged is not None and (judged.holds, judged.cleared) == (False, False)


@settings(max_examples=200, deadline=None)
@given(
    trials=st.lists(st.integers(0, 60), min_size=1, max_size=14),
    data=st.data(),
    threshold=st.floats(0.01, 0.99),
    window_days=st.integers(1, 14),
    direction=st.sampled_from(["above", "below"]),
)
def test_one_more_success_never_makes_a_below_rule_hold_nor_an_above_rule_clear(
    trials, data, threshold, window_days, direction
) -> None:
    n = np.array(trials)
    x = np.array([data.draw(st.integers(0, t)) for t in trials])
    room = np.flatnonzero(x < n)
    if not room.size:
        return
    more = x.copy()
    more[data.draw(st.sampled_from(room.tolist()))] += 1
    days = DAYS[: n.size]
    options = {"direction": direction, "threshold": threshold, "window_days": window_days}
    before = judge_rate_threshold(days, n, x, **options)
    after = judge_rate_threshold(days, n, more, **options)
    assert (before is None) == (after is None)
    if before is None or after is None:
        return
    if direction == "below":
        assert after.holds <= before.holds and after.cleared >= before.cleared
    else:
        assert after.holds >= before.holds and after.cleared <= before.cleared
    assert not (after.holds and after.cleared)


@settings(max_examples=25, deadline=None)
@given(
    count=st.integers(0, 3000),
    rate=st.floats(0, 1),
    length=st.integers(1, 150),
    kind=st.sampled_from(["anomaly", "drift"]),
)
def test_detectors_never_fire_on_a_constant_series(count, rate, length, kind) -> None:
    trials = np.full(length, count)
    successes = np.full(length, round(rate * count))
    judged = judge_rate_rule(
        DAYS[:length], trials, successes, kind=kind, direction=None, window_days=60
    )
    assert judged is not None and not judged.holds and judged.cleared
    assert judged.finding is None and judged.observed is None


def test_anomaly_and_drift_rules_match_the_detector_on_the_history() -> None:
    trials, successes = _steady(7)
    successes[95] = successes[95] // 3
    successes[110:] = np.random.default_rng(8).binomial(trials[110:], 0.08)
    history = slice(120 - HISTORY_DAYS + 1, 121)
    direct = detect_rate_anomalies(DAYS[history], trials[history], successes[history])
    # compared as text: a sustained finding's NaN p-value equals nothing
    assert repr(rate_findings(DAYS, trials, successes, as_of=DAYS[120])) == repr(direct)
    # the same with the series cut at the day judged
    assert repr(rate_findings(DAYS[:121], trials[:121], successes[:121])) == repr(direct)
    for kind, finding_kind in (("anomaly", "day"), ("drift", "sustained")):
        judged = judge_rate_rule(
            DAYS, trials, successes, kind=kind, direction="below", window_days=30, as_of=DAYS[120]
        )
        expected = [
            a
            for a in direct
            if a.kind == finding_kind
            and a.direction == "drop"
            and DAYS[91].astype(object) <= a.day <= DAYS[120].astype(object)
        ]
        assert expected and judged is not None and judged.holds  # a day's drop, a shift
        assert repr(judged.finding) == repr(expected[-1])
        assert judged.observed == expected[-1].observed_rate
        assert judged.expected == expected[-1].expected_rate


def test_missing_days_count_as_days_without_trials() -> None:
    trials, successes = _steady(3)
    trials[[40, 41, 70]] = 0
    successes[[40, 41, 70]] = 0
    keep = trials > 0
    full = rate_findings(DAYS, trials, successes, as_of=DAYS[149])
    gapped = rate_findings(DAYS[keep], trials[keep], successes[keep], as_of=DAYS[149])
    assert repr(full) == repr(gapped)  # repr: a sustained finding's NaN p-value equals nothing


def _finding(day: dt.date, kind: str, direction: str) -> RateAnomaly:
    return RateAnomaly(
        day=day,
        start_day=day,
        kind=kind,  # type: ignore[arg-type]
        direction=direction,  # type: ignore[arg-type]
        count=100.0,
        successes=5.0,
        observed_rate=0.05,
        expected_rate=0.1,
        difference=-0.05,
        relative_change=-0.5,
        z=-3.0,
        p_value=0.001,
        severity="warning",
    )


def test_findings_hold_a_rule_while_in_its_window_of_its_kind_and_direction() -> None:
    as_of = dt.date(2024, 3, 31)
    findings = (
        _finding(dt.date(2024, 3, 20), "day", "drop"),
        _finding(dt.date(2024, 3, 25), "day", "drop"),
        _finding(dt.date(2024, 3, 26), "sustained", "drop"),
        _finding(dt.date(2024, 3, 28), "day", "spike"),
    )

    def judge(kind: str, direction: str | None, window_days: int):
        return judge_findings(
            findings,
            kind=kind,  # type: ignore[arg-type]
            direction=direction,  # type: ignore[arg-type]
            window_days=window_days,
            as_of=as_of,
        )

    assert judge("anomaly", "below", 7).finding == findings[1]  # the latest drop in 25..31
    assert judge("anomaly", None, 7).finding == findings[3]  # either direction
    assert judge("anomaly", "below", 12).finding == findings[1]
    assert judge("drift", "below", 7).finding == findings[2]
    assert not judge("drift", "above", 30).holds
    # 7 days to the 31st start on the 25th: the 20th is out, a rule of 6 days misses the 25th
    early = judge_findings(
        findings[:1], kind="anomaly", direction="below", window_days=7, as_of=as_of
    )
    assert (early.holds, early.cleared) == (False, True)
    assert judge("anomaly", "below", 6).holds is False
    assert judge("anomaly", "below", 6).window_start == dt.date(2024, 3, 26)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"days": [1, 2]}, "days must be dates"),
        ({"days": ["2024-01-02", "2024-01-01"]}, "strictly increasing"),
        ({"trials": [10]}, "same length"),
        ({"trials": [10, -1]}, "trials"),
        ({"successes": [1, 11]}, "successes"),
        ({"window_days": 0}, "window_days"),
        ({"direction": "down"}, "direction"),
        ({"threshold": None}, "threshold is required"),
        ({"kind": "spike"}, "kind"),
        ({"clear_threshold": 0.05}, "clear_threshold must be on the good side"),
        ({"as_of": "yesterday"}, "as_of"),
    ],
)
def test_bad_input_is_named(arguments, message) -> None:
    call = {
        "days": ["2024-01-01", "2024-01-02"],
        "trials": [10, 10],
        "successes": [1, 1],
        "kind": "threshold",
        "direction": "below",
        "threshold": 0.1,
        "window_days": 7,
    } | arguments
    days, trials, successes = call.pop("days"), call.pop("trials"), call.pop("successes")
    with pytest.raises(ValueError, match=message):
        judge_rate_rule(days, trials, successes, **call)


def test_importing_the_module_loads_no_scipy() -> None:
    code = "import sys, analytics_engine.alert_judgement; print('scipy' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
