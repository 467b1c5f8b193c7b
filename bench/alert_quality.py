"""Quality of the alert detectors on simulated daily reply series: false alarms per rule-week
on steady series, detection delay of a 30 % reply-rate drop and of a slow calibration drift,
for each rule kind against a naive "today's rate below the threshold" rule judged in the same
runs (docs/performance.md records the output).

Every rule is judged once a day, as soon as the day has matured, by the functions the worker
uses (``analytics_engine.alert_judgement``), and its alert moved as ``backend/alerts/state.py``
moves it (hysteresis, 24 h hold).

Run: ``.venv/bin/python bench/alert_quality.py`` (a few minutes on 2 cores; ``--runs 60`` for a
quick run).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from analytics_engine.alert_judgement import HISTORY_DAYS
from analytics_engine.monitoring_simulation import (
    SeriesRule,
    Traffic,
    alert_openings,
    judge_every_day,
    simulate_days,
    weekday_of,
    working_days_between,
)

START = np.datetime64("2024-01-01")  # a Monday
WARM_UP = HISTORY_DAYS  # days of history before the first monitored day
THRESHOLD = 0.09  # the demo's team rule: reply rate below 9 % over a week
RULES = (
    SeriesRule("threshold: rate < 9 % over 7 days", "threshold", "below", 7, THRESHOLD),
    SeriesRule("threshold: rate < 8.5 % over 7 days", "threshold", "below", 7, 0.085),
    SeriesRule("anomaly: a day's drop (weekday baseline)", "anomaly", "below", 7),
    SeriesRule("drift: CUSUM drop", "drift", "below", 7),
    SeriesRule("calibration error > 3 % over 14 days", "calibration_error", "above", 14, 0.03),
    SeriesRule("naive: today's rate < 9 %", "threshold", "below", 1, THRESHOLD),
)
NAIVE = RULES[-1].name
VOLUMES = {
    "organisation (220 e-mails/day)": Traffic(220.0),
    "one team (80 e-mails/day)": Traffic(80.0),
}
DROP = 0.30  # relative drop of the reply rate
DROP_HORIZON = 28  # calendar days judged after the change (20 working days)
DRIFT_POINTS_PER_WEEK = 0.25  # replies fall behind stated confidence by 1 point in 4 weeks
DRIFT_HORIZON = 16 * 7
MATURITY_LAG = 8  # a day is judged 8 days later: the 7-day reply window, then a whole day


@dataclass
class Tally:
    """What one batch of runs found, per rule."""

    openings: dict[str, list[int]] = field(default_factory=dict)  # per steady run
    delays: dict[str, list[int]] = field(default_factory=dict)  # working days; -1 missed
    weeks: float = 0.0


def _seed(seed: int, scenario: int, volume: int, run: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(scenario, volume, run)))


def _change_day(rng: np.random.Generator) -> int:
    """A working day in the first monitored week, each weekday as likely."""
    weekday = int(rng.integers(0, 5))
    first = int(weekday_of(START + np.arange(WARM_UP, WARM_UP + 1))[0])
    return WARM_UP + (weekday - first) % 7


def _steady(seed: int, volume: int, runs: range, weeks: int) -> Tally:
    traffic = list(VOLUMES.values())[volume]
    tally = Tally(openings={r.name: [] for r in RULES})
    days = WARM_UP + 7 * weeks
    for run in runs:
        rng = _seed(seed, 0, volume, run)
        series = simulate_days(rng, traffic, start=START, reply_factor=np.ones(days))
        # judged from a week before the count starts, so an alert may already be open
        traces = judge_every_day(series, RULES, first=WARM_UP - 7, last=days - 1)
        for rule in RULES:
            trace = traces[rule.name]
            opened = alert_openings(trace.judged, trace.holds, trace.cleared, hold_days=1)
            tally.openings[rule.name].append(int(opened[WARM_UP:].sum()))
        tally.weeks += weeks
    return tally


def _changed(seed: int, scenario: int, volume: int, runs: range) -> Tally:
    traffic = list(VOLUMES.values())[volume]
    tally = Tally(delays={r.name: [] for r in RULES})
    horizon = DROP_HORIZON if scenario == 1 else DRIFT_HORIZON
    for run in runs:
        rng = _seed(seed, scenario, volume, run)
        change = _change_day(rng)
        days = change + horizon
        after = np.arange(days) - change
        if scenario == 1:  # replies drop, and the agent's confidence with them
            replies = np.where(after >= 0, 1.0 - DROP, 1.0)
            stated = replies
        else:  # replies fall behind the confidence the agent keeps stating
            gap = DRIFT_POINTS_PER_WEEK / 100.0 * np.maximum(after, 0) / 7.0
            replies, stated = 1.0 - gap / traffic.mean_rate, np.ones(days)
        series = simulate_days(
            rng, traffic, start=START, reply_factor=replies, confidence_factor=stated
        )
        traces = judge_every_day(
            series, RULES, first=change, last=days - 1, stop_once_all_held_since=change
        )
        for rule in RULES:
            hit = np.flatnonzero(traces[rule.name].evidence >= change)
            delay = working_days_between(series.days, change, hit[:1])
            tally.delays[rule.name].append(int(delay[0]) if hit.size else -1)
    return tally


def _batches(runs: int, jobs: int) -> Iterator[range]:
    size = max(1, -(-runs // (4 * jobs)))
    for start in range(0, runs, size):
        yield range(start, min(start + size, runs))


def _merge(tallies: list[Tally]) -> Tally:
    merged = Tally()
    for tally in tallies:
        for name, values in tally.openings.items():
            merged.openings.setdefault(name, []).extend(values)
        for name, values in tally.delays.items():
            merged.delays.setdefault(name, []).extend(values)
        merged.weeks += tally.weeks
    return merged


def _per_20_weeks(openings: list[int], weeks: int) -> tuple[float, float]:
    per_run = np.asarray(openings, dtype=np.float64) * 20.0 / weeks
    return float(per_run.mean()), float(per_run.std(ddof=1) / np.sqrt(per_run.size))


def _delay_figures(delays: list[int], within: tuple[int, ...]) -> str:
    d = np.asarray(delays)
    middle = float(np.median(np.where(d >= 0, d, np.inf)))  # a miss counts as the longest
    median = f"{middle:6.1f}" if np.isfinite(middle) else "     -"
    shares = "  ".join(f"{np.mean((d >= 0) & (d <= w)):5.1%}" for w in within)
    return f"{median}  {shares}  {np.mean(d < 0):5.1%}"


def _print_steady(results: dict[str, Tally], weeks: int) -> None:
    print(
        f"\n(a) Steady calibrated series: false alarms (alert openings) per 20 rule-weeks "
        f"± standard error, {weeks} weeks monitored per run after {WARM_UP} days of history"
    )
    header = "".join(f" | {name:>34}" for name in results)
    print(f"{'rule':<42}{header}")
    naive = {v: _per_20_weeks(t.openings[NAIVE], weeks)[0] for v, t in results.items()}
    for rule in RULES:
        cells = []
        for volume, tally in results.items():
            mean, se = _per_20_weeks(tally.openings[rule.name], weeks)
            ratio = f"{mean / naive[volume]:6.3f}x naive" if rule.name != NAIVE else " " * 13
            cells.append(f" | {mean:7.3f} ± {se:5.3f} {ratio}")
        print(f"{rule.name:<42}{''.join(cells)}")
    runs = len(next(iter(results.values())).openings[NAIVE])
    print(f"({runs} runs, {runs * weeks} rule-weeks per volume; target: at most 1)")


def _print_delays(title: str, results: dict[str, Tally], within: tuple[int, ...]) -> None:
    print(f"\n{title}")
    columns = "  ".join(f"<={w:>3}" for w in within)
    print(f"{'rule':<42} | {'volume':<30} |  median  {columns}  missed")
    for rule in RULES:
        for volume, tally in results.items():
            figures = _delay_figures(tally.delays[rule.name], within)
            print(f"{rule.name:<42} | {volume:<30} | {figures}")
    runs = len(next(iter(results.values())).delays[NAIVE])
    print(f"({runs} runs per volume)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="runs per scenario and volume")
    parser.add_argument("--weeks", type=int, default=13, help="weeks monitored per steady run")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    print(
        f"seed {args.seed}, {args.runs} runs per scenario and volume, {args.jobs} processes; "
        f"rules judged each matured day (a day is judged {MATURITY_LAG} days after it ends)"
    )
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures: dict[tuple[int, int], list] = {}
        for volume in range(len(VOLUMES)):
            for batch in _batches(args.runs, args.jobs):
                key = (0, volume)
                futures.setdefault(key, []).append(
                    pool.submit(_steady, args.seed, volume, batch, args.weeks)
                )
                for scenario in (1, 2):
                    futures.setdefault((scenario, volume), []).append(
                        pool.submit(_changed, args.seed, scenario, volume, batch)
                    )
        names = list(VOLUMES)
        results = {
            key: _merge([f.result() for f in batch]) for key, batch in sorted(futures.items())
        }
    _print_steady({names[v]: results[(0, v)] for v in range(len(VOLUMES))}, args.weeks)
    _print_delays(
        f"(b) A {DROP:.0%} reply-rate drop from a working day: working days of data from the "
        f"change to the first day judged holding on evidence from the change on (+{MATURITY_LAG}"
        " calendar days of maturity), share detected within 3 / 7 / 20 working days",
        {names[v]: results[(1, v)] for v in range(len(VOLUMES))},
        (3, 7, 20),
    )
    _print_delays(
        f"(c) Calibration drift: replies fall behind stated confidence by "
        f"{DRIFT_POINTS_PER_WEEK:g} points a week from a working day (about "
        f"{DRIFT_POINTS_PER_WEEK / 11.5:.1%} of the rate); same delays, within 4 / 8 / 16 weeks",
        {names[v]: results[(2, v)] for v in range(len(VOLUMES))},
        (20, 40, 80),
    )
    _print_targets(
        {names[v]: results[(0, v)] for v in range(len(VOLUMES))},
        {names[v]: results[(1, v)] for v in range(len(VOLUMES))},
        args.weeks,
    )
    print(f"\n{time.perf_counter() - started:.0f} s")


def _print_targets(steady: dict[str, Tally], drop: dict[str, Tally], weeks: int) -> None:
    """Which rules meet the issue's targets: at most 1 false alarm per 20 rule-weeks, and a
    30 % drop found in a median of 3 working days (organisation) or 7 (one team)."""
    print("\nTargets (median delay; a miss counts as the longest):")
    for (volume, tally), days in zip(steady.items(), (3, 7), strict=True):
        quiet = [r.name for r in RULES if _per_20_weeks(tally.openings[r.name], weeks)[0] <= 1.0]
        fast = [
            r.name
            for r in RULES
            if np.median(
                np.where(
                    np.asarray(drop[volume].delays[r.name]) >= 0,
                    drop[volume].delays[r.name],
                    np.inf,
                )
            )
            <= days
        ]
        both = [name for name in quiet if name in fast]
        print(f"  {volume}: <= 1 false alarm per 20 rule-weeks: {'; '.join(quiet) or 'none'}")
        print(f"  {volume}: drop found within {days} working days: {'; '.join(fast) or 'none'}")
        print(f"  {volume}: both: {'; '.join(both) or 'none'}")


if __name__ == "__main__":
    main()
