"""Benchmark of the calibration engine's batch path and of one ``add``.

For each size, the best of ``--repeats`` runs of:

- engine: ``CalibrationStats.add_many`` + ``brier_decomposition`` + ``reliability_curve``
  (binary outcomes; also with fractional outcomes, which take the slower general route), and
  ``add_many`` alone (the compiled kernel; the rest is a fixed ~0.1 ms over the 20 bins),
- scikit-learn: ``calibration_curve(n_bins=20)`` + ``brier_score_loss``,
- read limit: ``p.sum() + y.sum()``, reading both arrays once.

Run: ``.venv/bin/python bench/bench_calibration.py`` (``--sizes 1e5 1e6`` for a quick run).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from analytics_engine.calibration import (
    CalibrationStats,
    brier_decomposition,
    reliability_curve,
)


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def engine(p: np.ndarray, y: np.ndarray) -> None:
    stats = CalibrationStats.empty(20)
    stats.add_many(p, y)
    brier_decomposition(stats)
    reliability_curve(stats)


def add_many(p: np.ndarray, y: np.ndarray) -> None:
    CalibrationStats.empty(20).add_many(p, y)


def scikit_learn(p: np.ndarray, y: np.ndarray) -> None:
    calibration_curve(y, p, n_bins=20, strategy="uniform")
    brier_score_loss(y, p)


def read_once(p: np.ndarray, y: np.ndarray) -> None:
    p.sum() + y.sum()


def time_add(repetitions: int) -> float:
    """Microseconds per ``add(p, y)`` call, Python loop included."""
    rng = np.random.default_rng(1)
    ps = rng.random(repetitions).tolist()
    ys = (rng.random(repetitions) < 0.5).astype(float).tolist()
    stats = CalibrationStats.empty(20)
    add = stats.add
    start = time.perf_counter()
    for p, y in zip(ps, ys, strict=True):
        add(p, y)
    return (time.perf_counter() - start) / repetitions * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--add-repetitions", type=int, default=200_000)
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, {platform.machine()}"
    )
    header = (
        f"{'outcomes':>10} {'engine ms':>10} {'frac. y ms':>10} {'add_many ms':>12} "
        f"{'sklearn ms':>11} {'read ms':>8} {'sklearn/engine':>15} {'engine/read':>12}"
    )
    print(header)
    rng = np.random.default_rng(0)
    warm_p = rng.random(1000)
    engine(warm_p, np.round(warm_p))  # first calls pay for imports and caches
    scikit_learn(warm_p, np.round(warm_p))
    for size in args.sizes:
        n = int(size)
        p = rng.random(n)
        y = (rng.random(n) < p).astype(np.float64)
        y_fractional = np.round(rng.random(n) * 4) / 4  # 5-level ordinal outcomes
        repeats = max(2, args.repeats if n < 5_000_000 else args.repeats // 2)
        t_engine = best_of(repeats, lambda p=p, y=y: engine(p, y))
        t_fractional = best_of(repeats, lambda p=p, y=y_fractional: engine(p, y))
        t_add_many = best_of(repeats, lambda p=p, y=y: add_many(p, y))
        t_sklearn = best_of(repeats, lambda p=p, y=y: scikit_learn(p, y))
        t_read = best_of(repeats * 3, lambda p=p, y=y: read_once(p, y))
        print(
            f"{n:>10.0e} {t_engine * 1e3:>10.2f} {t_fractional * 1e3:>10.2f} "
            f"{t_add_many * 1e3:>12.2f} {t_sklearn * 1e3:>11.1f} {t_read * 1e3:>8.3f} "
            f"{t_sklearn / t_engine:>14.1f}x "
            f"{t_engine / t_read:>11.1f}x"
        )
    print(f"one add(p, y): {time_add(args.add_repetitions):.2f} µs (loop included)")


if __name__ == "__main__":
    main()
