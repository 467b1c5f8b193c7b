"""False-alarm rate of ``assess`` re-evaluated after every outcome of a perfectly calibrated
agent, against naive rules (docs/calibration.md records the output).

Run: ``.venv/bin/python bench/false_alarms.py`` (a few minutes; ``--runs 200`` for a quick run).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from analytics_engine.monitoring_simulation import (
    false_alarm_rate,
    high_confidence,
    uniform_confidence,
)

INF = float("inf")
RULES = {
    "assess() defaults (|z|>=3, n>=100, |O/E-1|>=0.1, error>=0.03)": {},
    "|z|>=3 and n>=100, no effect-size gates": {"min_effect": 0.0, "min_error": 0.0},
    "naive: Spiegelhalter |Z|>=1.96 from n=1": {
        "z_threshold": 1.96,
        "min_n": 1,
        "min_effect": INF,
        "min_error": 0.0,
    },
    "naive: Spiegelhalter |Z|>=1.96 from n=100": {
        "z_threshold": 1.96,
        "min_n": 100,
        "min_effect": INF,
        "min_error": 0.0,
    },
    "naive: both z tests >=1.96 from n=1": {
        "z_threshold": 1.96,
        "min_n": 1,
        "min_effect": 0.0,
        "min_error": 0.0,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="runs for the gated rules")
    parser.add_argument("--naive-runs", type=int, default=400, help="runs for the naive rules")
    parser.add_argument("--horizons", nargs="+", type=int, default=[5000, 20000])
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    samplers = {"p ~ U(0.05, 0.95)": uniform_confidence, "p ~ Beta(5, 2)": high_confidence}
    print(
        f"{args.runs} runs per cell ({args.naive_runs} for naive rules), seed {args.seed}; "
        "share of runs with any alarm ± its standard error"
    )
    for horizon in args.horizons:
        for label, options in RULES.items():
            if horizon != args.horizons[0] and "naive" in label:
                continue  # the naive rules only get worse with the horizon
            cells = []
            start = time.perf_counter()
            for name, sampler in samplers.items():
                result = false_alarm_rate(
                    runs=args.naive_runs if "naive" in label else args.runs,
                    horizon=horizon,
                    rng=np.random.default_rng(args.seed),
                    confidence=sampler,
                    **options,
                )
                se = np.sqrt(result.rate * (1 - result.rate) / result.runs)
                cells.append(f"{name}: {result.rate:6.1%} ± {se:.1%}")
            elapsed = time.perf_counter() - start
            print(f"horizon {horizon:>6}  {label:<62} {' | '.join(cells)}  ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
