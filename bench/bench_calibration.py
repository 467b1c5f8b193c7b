"""Benchmark of the calibration engine's batch path and of one ``add``.

For each size, the best of ``--repeats`` runs of:

- engine: ``CalibrationStats.add_many`` + ``brier_decomposition`` + ``reliability_curve``
  (binary outcomes; also with fractional outcomes, which take the slower general route), and
  ``add_many`` alone (the compiled kernel; the rest is a fixed ~0.1 ms over the 20 bins),
- scikit-learn: ``calibration_curve(n_bins=20)`` + ``brier_score_loss``,
- read limit: ``p.sum() + y.sum()``, reading both arrays once,

and one ``add(p, y)`` (200,000 calls, then one read of the sums) against, interleaved in the same
run: the previous per-call update (check, the ten terms, ``table[:, bin] += terms``) and an
empty method call with the same two arguments (the floor of any Python ``add``).

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

from analytics_engine.binning import bin_of
from analytics_engine.calibration import (
    STAT_FIELDS,
    CalibrationStats,
    brier_decomposition,
    reliability_curve,
)
from analytics_engine.calibration_stats import _values


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


class PerCallUpdate:
    """The previous ``add``: every call writes its ten terms into a numpy table."""

    def __init__(self, n_bins: int) -> None:
        self.table = np.zeros((len(STAT_FIELDS), n_bins))

    def add(self, p: float, y: float) -> None:
        if type(p) is not float or not 0.0 <= p <= 1.0:
            raise ValueError("p")
        if type(y) is not float or not 0.0 <= y <= 1.0:
            raise ValueError("y")
        self.table[:, bin_of(p, self.table.shape[1])] += _values(p, y)


class EmptyCall:
    def add(self, p: float, y: float) -> None:
        pass


def time_adds(repetitions: int, rounds: int) -> dict[str, float]:
    """Best microseconds per call of each ``add``, rounds interleaved, the loop and the final
    read of the sums included."""
    rng = np.random.default_rng(1)
    ps = rng.random(repetitions).tolist()
    ys = (rng.random(repetitions) < 0.5).astype(float).tolist()
    makers = {
        "add": lambda: CalibrationStats.empty(20),
        "per-call numpy update": lambda: PerCallUpdate(20),
        "empty call": EmptyCall,
    }
    best = dict.fromkeys(makers, float("inf"))
    for _ in range(rounds):
        for name, make in makers.items():
            target = make()
            add = target.add
            start = time.perf_counter()
            for p, y in zip(ps, ys, strict=True):
                add(p, y)
            if isinstance(target, CalibrationStats):
                target.field("count")  # sums what is pending
            best[name] = min(best[name], (time.perf_counter() - start) / repetitions * 1e6)
    return best


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
    adds = time_adds(args.add_repetitions, args.repeats)
    for name, micros in adds.items():
        print(f"one {name}(p, y): {micros:.2f} µs ({micros / adds['add']:.2f}x add; loop included)")


if __name__ == "__main__":
    main()
