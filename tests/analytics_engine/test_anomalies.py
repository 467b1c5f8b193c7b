"""Anomalies of daily rates (predictive tails, CUSUM) and of daily values (robust z)."""

import datetime as dt
import doctest
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from analytics_engine import anomalies
from analytics_engine.anomalies import detect_rate_anomalies, detect_value_anomalies

START = np.datetime64("2024-01-01")  # a Monday
DAYS = np.arange(START, START + 120)
WEEKDAY = (DAYS.astype(np.int64) + 3) % 7  # Monday = 0
WEEKDAY_RATE = np.array([0.30, 0.32, 0.31, 0.29, 0.25, 0.15, 0.12])


def _series(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(np.where(WEEKDAY >= 5, 60, 300))
    return counts, rng.binomial(counts, WEEKDAY_RATE[WEEKDAY])


def test_docstring_examples_run() -> None:
    result = doctest.testmod(anomalies)
    assert result.attempted > 0 and result.failed == 0


def test_injected_one_day_drop_is_detected() -> None:
    counts, successes = _series(seed=11)
    successes[80] = round(0.4 * successes[80])
    found = detect_rate_anomalies(DAYS, counts, successes)
    day = next(a for a in found if a.kind == "day" and a.day == dt.date(2024, 3, 21))
    assert day.direction == "drop" and day.severity == "critical"
    assert day.observed_rate < day.expected_rate and day.relative_change < -0.4
    assert day.p_value < 1e-6 and day.z < -5


def test_one_outlying_day_alone_is_not_a_shift() -> None:
    # Winsorised at 3, a day adds at most 3 - k = 2.5 to a CUSUM at rest: under h = 3. (After
    # a few slightly low days it may cross: in noisy series like _series', half the time.)
    counts = np.where(WEEKDAY >= 5, 60, 300)
    successes = np.round(counts * WEEKDAY_RATE[WEEKDAY])
    successes[80] = 0
    found = detect_rate_anomalies(DAYS, counts, successes)
    assert [(a.day, a.kind) for a in found] == [(DAYS[80].astype(object), "day")]


def test_injected_spike_is_detected() -> None:
    counts, successes = _series(seed=12)
    successes[100] = min(counts[100], round(1.8 * successes[100]))
    found = detect_rate_anomalies(DAYS, counts, successes)
    assert any(
        a.day == DAYS[100].astype(object) and a.direction == "spike" and a.severity == "critical"
        for a in found
    )


def test_sustained_drop_is_signalled_by_the_cusum_soon_after_it_starts() -> None:
    counts, successes = _series(seed=13)
    rng = np.random.default_rng(99)
    successes[70:] = rng.binomial(counts[70:], 0.8 * WEEKDAY_RATE[WEEKDAY[70:]])
    found = detect_rate_anomalies(DAYS, counts, successes)
    # h = 3 allows an in-control crossing about every 120 days a direction (this series has
    # one in February), so the drop's is the first crossing from the change on
    change = DAYS[70].astype(object)
    shifts = [
        a for a in found if a.kind == "sustained" and a.direction == "drop" and a.day >= change
    ]
    assert shifts
    assert shifts[0].day <= DAYS[84].astype(object)
    assert shifts[0].start_day <= shifts[0].day and shifts[0].relative_change < -0.1
    assert np.isnan(shifts[0].p_value)


def test_day_p_value_is_the_beta_binomial_predictive_tail() -> None:
    # Without seasonality the baseline is Beta(X + 1/2, N - X + 1/2) from the 28 days before.
    counts = np.full(40, 200)
    successes = np.full(40, 60)
    successes[35] = 40
    (found,) = detect_rate_anomalies(
        np.arange(738000, 738040),
        counts,
        successes,
        weekday_seasonality=False,
        baseline_days=28,
    )
    a, b = 28 * 60 + 0.5, 28 * 140 + 0.5
    assert found.p_value == pytest.approx(stats.betabinom.cdf(40, 200, a, b), rel=1e-9)
    assert found.expected_rate == pytest.approx(a / (a + b))
    # with a long, large baseline the predictive tends to the binomial p-chart tail
    assert found.p_value == pytest.approx(stats.binom.cdf(40, 200, 0.3), rel=0.25)


def _exact_beta_binomial_pmf(n: int, a: float, b: float) -> list[Fraction]:
    """The pmf in exact rationals: ``C(n, k) (a)_k (b)_(n-k) / (a + b)_n`` with rising
    factorials, a and b taken exactly as the floats they are (Johnson, Kemp & Kotz, Univariate
    Discrete Distributions, 3rd ed., sec. 6.7.2)."""
    fa, fb = Fraction(a), Fraction(b)

    def rising(x: Fraction, k: int) -> Fraction:
        out = Fraction(1)
        for i in range(k):
            out *= x + i
        return out

    total = rising(fa + fb, n)
    return [math.comb(n, k) * rising(fa, k) * rising(fb, n - k) / total for k in range(n + 1)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 60),
            st.floats(0.0, 1.0),
            st.floats(0.5, 2e5),
            st.floats(0.5, 2e5),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_beta_binomial_tails_are_exact(rows: list[tuple[int, float, float, float]]) -> None:
    """The summed-ratio tails equal the exact rational tails, on both sides of the mean, for
    rows of different lengths judged at once."""
    n = np.array([r[0] for r in rows], dtype=np.float64)
    x = np.floor(n * np.array([r[1] for r in rows]))
    a = np.array([r[2] for r in rows])
    b = np.array([r[3] for r in rows])
    p_low, p_high = anomalies._beta_binomial_tails(x, n, a, b)
    for i, (count, _, alpha, beta) in enumerate(rows):
        pmf = _exact_beta_binomial_pmf(count, alpha, beta)
        k = int(x[i])
        # log-gamma of arguments near 1e5 keeps about 9 digits
        assert p_low[i] == pytest.approx(float(sum(pmf[: k + 1])), rel=1e-7, abs=1e-300)
        assert p_high[i] == pytest.approx(float(sum(pmf[k:])), rel=1e-7, abs=1e-300)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 5000), st.floats(0.0, 1.0), st.floats(0.5, 500.0), st.floats(0.5, 500.0))
def test_beta_binomial_tails_match_scipy_on_long_rows(
    n: int, share: float, a: float, b: float
) -> None:
    """Up to the detector's exact limit, against scipy's ``betabinom`` (which sums the pmf term
    by term), on tails above 1e-6 and to 1e-5: scipy's own pmf loses digits in the tails (n = 4,
    a = 1, b = 172: P(X = 4) = 24 / (173 * 174 * 175 * 176) = 2.588601e-8, scipy 2.588587e-8;
    n = 2370, a = 22, b = 29, P(X >= 1777): exact 1.0067581101e-6, ours 1.0067581101e-6, scipy
    1.0067568573e-6), which the exact test above pins down."""
    x = float(np.floor(n * share))
    p_low, p_high = anomalies._beta_binomial_tails(
        np.array([x]), np.array([float(n)]), np.array([a]), np.array([b])
    )
    want_low, want_high = stats.betabinom.cdf(x, n, a, b), stats.betabinom.sf(x - 1, n, a, b)
    assume(min(want_low, want_high) > 1e-6)
    assert p_low[0] == pytest.approx(want_low, rel=1e-5)
    assert p_high[0] == pytest.approx(want_high, rel=1e-5)


def test_large_counts_use_the_normal_limit_consistently() -> None:
    counts = np.full(40, 20000)
    successes = np.full(40, 6000)
    successes[35] = 5300
    (found,) = detect_rate_anomalies(
        np.arange(738000, 738040),
        counts,
        successes,
        weekday_seasonality=False,
        baseline_days=28,
    )
    a, b = 28 * 6000 + 0.5, 28 * 14000 + 0.5
    exact = stats.betabinom.cdf(5300, 20000, a, b)  # the exact tail, computed only here
    assert np.log(found.p_value) == pytest.approx(np.log(exact), rel=0.05)


def test_false_alarm_rates_on_in_control_series_are_near_nominal() -> None:
    daily_alarms = sustained = tested = 0
    for seed in range(40):
        counts, successes = _series(seed)
        found = detect_rate_anomalies(DAYS, counts, successes)
        daily_alarms += sum(a.kind == "day" and a.severity != "info" for a in found)
        sustained += sum(a.kind == "sustained" for a in found)
        tested += DAYS.size - 1
    assert daily_alarms / tested < 0.006  # nominal 2 x 0.00135 for warning or worse
    # two-sided CUSUM, h = 3: in-control run length about 120 days a direction (Siegmund)
    assert sustained / tested < 1 / 50


def test_small_days_are_not_judged() -> None:
    counts = np.full(60, 200)
    successes = np.full(60, 60)
    counts[50], successes[50] = 5, 0
    assert detect_rate_anomalies(DAYS[:60], counts, successes, min_count=20) == ()


def test_day_formats_are_equivalent_and_gaps_are_allowed() -> None:
    counts, successes = _series(seed=14)
    successes[80] = 0
    keep = np.ones(DAYS.size, bool)
    keep[[20, 21, 50]] = False
    as_dates = [d.astype(object) for d in DAYS[keep]]
    results = [
        detect_rate_anomalies(days, counts[keep], successes[keep])
        for days in (
            DAYS[keep],
            as_dates,
            [d.toordinal() for d in as_dates],
            [d.isoformat() for d in as_dates],
        )
    ]
    # compared as text: a sustained finding's p-value is NaN, which equals nothing
    assert results[0] and all(repr(result) == repr(results[0]) for result in results)


@settings(max_examples=25, deadline=None)
@given(
    length=st.integers(1, 90),
    count=st.integers(0, 5000),
    rate=st.floats(0, 1),
    seasonal=st.booleans(),
)
def test_constant_series_has_no_anomaly(length, count, rate, seasonal) -> None:
    counts = np.full(length, count)
    successes = np.full(length, round(rate * count))
    days = DAYS[:length]
    assert detect_rate_anomalies(days, counts, successes, weekday_seasonality=seasonal) == ()
    values = np.full(length, rate * 1000)
    assert detect_value_anomalies(days, values, weekday_seasonality=seasonal) == ()


def test_weekly_pattern_repeated_exactly_has_no_anomaly() -> None:
    counts = np.where(WEEKDAY >= 5, 60, 300)
    successes = np.round(counts * WEEKDAY_RATE[WEEKDAY])
    assert detect_rate_anomalies(DAYS, counts, successes) == ()
    assert detect_value_anomalies(DAYS, 100.0 * WEEKDAY_RATE[WEEKDAY]) == ()


def test_value_anomalies_find_a_drop_against_weekday_seasonality() -> None:
    rng = np.random.default_rng(15)
    values = np.where(WEEKDAY >= 5, 50.0, 200.0) + rng.normal(0, 5, DAYS.size)
    values[92] -= 150  # a Tuesday at the level of a weekend day: a drop only with seasonality
    found = detect_value_anomalies(DAYS, values)
    drop = next(a for a in found if a.day == DAYS[92].astype(object))
    assert drop.direction == "drop" and drop.severity == "critical" and drop.robust_z < -7
    assert drop.expected == pytest.approx(200, abs=10)


@pytest.mark.parametrize(
    ("days", "counts", "successes", "options", "message"),
    [
        ([], [], [], {}, "days must be a non-empty"),
        ([3, 2], [10, 10], [1, 1], {}, "strictly increasing"),
        (["x", "y"], [10, 10], [1, 1], {}, "days must be dates"),
        (["2024-01-01", "NaT"], [10, 10], [1, 1], {}, "NaT"),
        ([1, 2], [10], [1, 1], {}, "same length"),
        ([1, 2], [10, -1], [1, 1], {}, "counts"),
        ([1, 2], [10, 2.5], [1, 1], {}, "counts"),
        ([1, 2], [10, 10], [1, 11], {}, "successes"),
        ([1, 2], [10, 10], [1, np.nan], {}, "successes"),
        ([1, 2], [10, 10], [1, 1], {"baseline_days": 3}, "baseline_days"),
        ([1, 2], [10, 10], [1, 1], {"min_count": 0}, "min_count"),
        ([1, 2], [10, 10], [1, 1], {"severity_p_values": (0.1, 0.2, 0.3)}, "severity_p_values"),
        ([1, 2], [10, 10], [1, 1], {"min_relative_change": -1}, "min_relative_change"),
        ([1, 2], [10, 10], [1, 1], {"cusum_h": 0}, "cusum_h"),
    ],
)
def test_rate_detector_rejects_bad_input(days, counts, successes, options, message) -> None:
    with pytest.raises(ValueError, match=message):
        detect_rate_anomalies(days, counts, successes, **options)


@pytest.mark.parametrize(
    ("values", "options", "message"),
    [
        ([1.0], {}, "same length"),
        ([1.0, np.inf], {}, "finite"),
        ([1.0, 2.0], {"baseline_days": 30}, "multiple of 7"),
        ([1.0, 2.0], {"severity_z": (5, 4, 3)}, "severity_z"),
    ],
)
def test_value_detector_rejects_bad_input(values, options, message) -> None:
    with pytest.raises(ValueError, match=message):
        detect_value_anomalies([1, 2], values, **options)


@settings(max_examples=30, deadline=None)
@given(counts=st.lists(st.integers(-5, 50), min_size=1, max_size=20), extra=st.integers(1, 9))
def test_successes_above_counts_or_negative_counts_always_raise(counts, extra) -> None:
    counts_array = np.array(counts)
    successes = np.clip(counts_array, 0, None) + extra
    with pytest.raises(ValueError):
        detect_rate_anomalies(np.arange(len(counts)) + 738000, counts_array, successes)
