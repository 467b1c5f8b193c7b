"""Following drift: an agent whose model changes (temperature 1 to 2 after 2,000 outcomes) and a
steady one (temperature 1 throughout), each recalibrated three ways on the same outcomes
(docs/calibration.md, "Following drift", records the output):

- **fixed fit**: every outcome so far, nothing forgotten (today's statistics);
- **forgetting**: exponentially decayed statistics (``drift.decayed_stats``) for a range of
  half-lives (in outcomes);
- **restart on change**: the change detector (``drift.detect_change``) watches the residuals of
  the current map; when it fires, the fit restarts from its estimated change point: the map is
  refitted on the outcomes since then, shrunk toward the map before the change
  (``drift.change_prior`` and ``fit_pooled_recalibration``), and the
  detector starts afresh with it; ``--spread 0`` restarts from scratch instead.

Every map is the product's fit, ``fit_recalibration`` (identity below 100 outcomes, Platt
above; the isotonic switch is left out so that all arms fit the same family), refitted every
``--refit`` outcomes (the backend refits after each outcome) and judged by its held-out ECE:
the 20-bin plug-in ECE of the recalibrated confidence on 50,000 fresh outcomes of the agent as
it is at that time, median over seeds, at 100 ... 1,000 outcomes after the change.

Targets (issue #18): after the change, held-out ECE under 0.03 within 300 outcomes; the steady
agent's map no more than 10 % noisier than the fixed fit (medians).

Run: ``.venv/bin/python bench/calibration_drift.py`` (40 seeds, about 20 s on 2 cores;
``--seeds 8`` for a quick look, ``--seeds 200`` for figures to trust, about two minutes,
``--seed`` for another set of seeds).
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import numpy as np
from scipy.special import expit, logit

from analytics_engine.calibration import CalibrationStats, calibration_errors
from analytics_engine.drift import (
    CHANGE_SPREAD,
    DEFAULT_THRESHOLD,
    MIN_FITTED,
    ChangeDetector,
    change_prior,
    decayed_stats,
    detect_change,
)
from analytics_engine.pooling import GroupPrior, fit_pooled_recalibration
from analytics_engine.recalibration import RecalibrationMap, fit_recalibration

CHANGE = 2000
OFFSETS = (100, 200, 300, 500, 1000)
HALF_LIVES = (100.0, 200.0, 400.0, 800.0, 1600.0)
HELD_OUT = 50_000


def fit(stats: CalibrationStats) -> RecalibrationMap:
    return fit_recalibration(stats, isotonic_min_n=math.inf)


def truth(p: np.ndarray, temperature: float) -> np.ndarray:
    return expit(logit(np.clip(p, 1e-12, 1 - 1e-12)) / temperature)


def held_out_ece(m: RecalibrationMap, fresh: tuple[np.ndarray, np.ndarray]) -> float:
    p, y = fresh
    return calibration_errors(CalibrationStats.from_arrays(m.apply(p), y)).ece


def follow(
    p: np.ndarray, y: np.ndarray, *, threshold: float, spread: float, refit: int, at: list[int]
) -> tuple[dict[int, RecalibrationMap], list[tuple[int, int]]]:
    """The restart-on-change arm: the map at each time in ``at``, and every restart as
    (outcomes seen when the detector fired, outcome the fit restarted from)."""
    window, t, detector = 0, 0, ChangeDetector()
    prior: GroupPrior | None = None
    current = RecalibrationMap.identity()
    maps: dict[int, RecalibrationMap] = {}
    restarts: list[tuple[int, int]] = []
    detector_start = 0
    pending = sorted(at)
    while t < p.size:
        end = min(t + refit, p.size)
        if pending:
            end = min(end, pending[0])
        if current.n < MIN_FITTED:  # the map is still learning: not watched yet
            t, detector, detector_start = end, ChangeDetector(), end
            trace = None
        else:
            trace = detect_change(
                current.apply(p[t:end]), y[t:end], state=detector, threshold=threshold
            )
        if trace is not None and trace.alarm is not None and trace.change_point is not None:
            t += trace.alarm
            start = detector_start + trace.change_point
            if spread > 0:
                before = CalibrationStats.from_arrays(p[window:start], y[window:start])
                prior = change_prior(before, spread=spread)
            window = start
            restarts.append((t, window))
            detector, detector_start = ChangeDetector(), t
        elif trace is not None:
            t, detector = end, trace.state
        since = CalibrationStats.from_arrays(p[window:t], y[window:t])
        current = fit(since) if prior is None else fit_pooled_recalibration(since, prior).map
        while pending and pending[0] <= t:
            maps[pending.pop(0)] = current
    return maps, restarts


def run(seeds: int, threshold: float, spread: float, refit: int, base: int) -> None:
    at = [CHANGE + k for k in OFFSETS]
    horizon = at[-1]
    arms = ["fixed fit", "restart on change"] + [f"forgetting, half-life {h:g}" for h in HALF_LIVES]
    ece: dict[str, dict[str, dict[int, list[float]]]] = {
        kind: {arm: {k: [] for k in OFFSETS} for arm in arms} for kind in ("drift", "steady")
    }
    restarts: dict[str, list[list[tuple[int, int]]]] = {"drift": [], "steady": []}
    for seed in range(seeds):
        for kind, after in (("drift", 2.0), ("steady", 1.0)):
            rng = np.random.default_rng(base + 1000 * seed + (kind == "steady"))
            p = rng.random(horizon)
            temperature = np.where(np.arange(horizon) < CHANGE, 1.0, after)
            y = (rng.random(horizon) < truth(p, temperature)).astype(np.float64)
            fp = rng.random(HELD_OUT)
            fresh = (fp, (rng.random(HELD_OUT) < truth(fp, after)).astype(np.float64))
            maps, fired = follow(p, y, threshold=threshold, spread=spread, refit=refit, at=at)
            restarts[kind].append(fired)
            for k, t in zip(OFFSETS, at, strict=True):
                ece[kind]["fixed fit"][k].append(
                    held_out_ece(fit(CalibrationStats.from_arrays(p[:t], y[:t])), fresh)
                )
                ece[kind]["restart on change"][k].append(held_out_ece(maps[t], fresh))
                for h in HALF_LIVES:
                    stats = decayed_stats(p[:t], y[:t], half_life=h)
                    ece[kind][f"forgetting, half-life {h:g}"][k].append(
                        held_out_ece(fit(stats), fresh)
                    )
    for kind, title in (
        ("drift", "Temperature 1 -> 2 after 2,000 outcomes"),
        ("steady", "Steady agent (temperature 1 throughout)"),
    ):
        print(f"\n{title}: median held-out ECE, {seeds} seeds, n outcomes after outcome 2,000")
        print(f"{'map':<32}" + "".join(f"{'+' + str(k):>9}" for k in OFFSETS))
        for arm in arms:
            row = "".join(f"{np.median(ece[kind][arm][k]):>9.4f}" for k in OFFSETS)
            print(f"{arm:<32}{row}")
        if kind == "steady":
            fixed = [np.median(ece[kind]["fixed fit"][k]) for k in OFFSETS]
            for arm in arms[1:]:
                ratio = [
                    np.median(ece[kind][arm][k]) / f for k, f in zip(OFFSETS, fixed, strict=True)
                ]
                print(f"{arm + ' / fixed':<32}" + "".join(f"{r:>8.2f}x" for r in ratio))
    drift_fired = restarts["drift"]
    early = sum(1 for f in drift_fired if any(t <= CHANGE for t, _ in f))
    hits = [next((r for r in f if r[0] > CHANGE), None) for f in drift_fired]
    delays = [r[0] - CHANGE for r in hits if r is not None]
    points = [r[1] - CHANGE for r in hits if r is not None]
    again = sum(1 for f in drift_fired if sum(1 for t, _ in f if t > CHANGE) > 1)
    steady_any = sum(1 for f in restarts["steady"] if f)
    steady_total = sum(len(f) for f in restarts["steady"])
    print(
        f"\nDetector (threshold {threshold:g}, prior spread {spread:g}, map refitted every "
        f"{refit} outcomes)"
    )
    print(f"  drift: detected after the change in {len(delays)}/{seeds} runs; delay median")
    if delays:
        print(
            f"    {np.median(delays):.0f}, p90 {np.percentile(delays, 90):.0f}, max {max(delays)};"
            f" estimated change point - 2,000: median {np.median(points):+.0f}, p10 "
            f"{np.percentile(points, 10):+.0f}, p90 {np.percentile(points, 90):+.0f}"
        )
    print(f"  drift: false restart before the change in {early}/{seeds} runs; a second restart")
    print(f"    after the change in {again}/{seeds}")
    print(
        f"  steady: runs with any (false) restart in {CHANGE + OFFSETS[-1]:,} outcomes: "
        f"{steady_any}/{seeds} ({steady_total} restarts in all)"
    )
    within = float(np.median(ece["drift"]["restart on change"][300]))
    print("\nTargets (issue #18)")
    print(f"  drift, +300: restart {within:.4f} < 0.03: {'met' if within < 0.03 else 'NOT met'}")
    worst = max(
        float(np.median(ece["steady"]["restart on change"][k]))
        / float(np.median(ece["steady"]["fixed fit"][k]))
        for k in OFFSETS
    )
    print(
        f"  steady: restart at most {worst:.2f}x the fixed fit (<= 1.10x): "
        f"{'met' if worst <= 1.10 else 'NOT met'}"
    )
    for h in HALF_LIVES:
        arm = f"forgetting, half-life {h:g}"
        d = float(np.median(ece["drift"][arm][300]))
        w = max(
            float(np.median(ece["steady"][arm][k]))
            / float(np.median(ece["steady"]["fixed fit"][k]))
            for k in OFFSETS
        )
        print(f"  {arm}: drift +300 {d:.4f}, steady at most {w:.2f}x the fixed fit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument(
        "--spread",
        type=float,
        default=CHANGE_SPREAD,
        help="prior spread after a restart (0: restart from scratch)",
    )
    parser.add_argument("--refit", type=int, default=25, help="outcomes between refits")
    parser.add_argument("--seed", type=int, default=20261207, help="base of the seeds")
    args = parser.parse_args()
    started = time.perf_counter()
    run(args.seeds, args.threshold, args.spread, args.refit, args.seed)
    print(
        f"\n{time.perf_counter() - started:.0f} s on {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
