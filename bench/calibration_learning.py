"""How fast an agent's confidence gets calibrated: pooled recalibration across agents and the
method chosen by evidence, against per-agent fits computed on the same outcomes in the same run
(docs/calibration.md, "Pooling and method choice", records the output).

Agents state a confidence ``p ~ U(0, 1)``; an agent of temperature ``T`` succeeds with
probability ``expit(logit(p) / T)`` (``T > 1``: overconfident). Every map is judged by its
held-out ECE: the plug-in expected calibration error (20 equal-width bins) of the recalibrated
confidence on 50,000 fresh outcomes of the same agent, median over seeds.

1. Pooling: 12 agents of one action type, temperatures ``2 · exp(0.15 · N(0, 1))``; 11 have
   1,000 outcomes each; the 12th has 0, 50, 200 or 1,000. Its maps: today's
   ``fit_recalibration`` (identity below 100 outcomes, Platt below 2,000, isotonic above), its
   own Platt fit, the pooled fit (``fit_pooled_recalibration``) and the evidence's choice
   (``choose_recalibration`` offered the pooled map). Then the same with the 11 siblings
   around temperature 0.5 (distorted the other way) and the 12th still around 2.
2. Method choice: one agent, ``n`` in 100 ... 20,000 outcomes, a logistic distortion
   (temperature 2) and a step (success 0.25 below p = 0.5, 0.75 above: no logistic curve fits
   it); the chosen map against Platt and isotonic fitted on the same outcomes, by held-out ECE
   and by held-out log loss (``--first-seed 100`` for seeds the choice was not tuned on).
   Teams: three teams of four agents (temperatures 1.25, 2 and 4), agent 12 in the third;
   pooled toward the organisation (``group_prior``) and toward its team (``team_prior``).
3. Monitoring: the e-process (``monitor_calibration``) against today's ``assess`` rule and the
   bare |z| >= 3 rule, each judged after every outcome up to 10,000 on the same runs: false
   alarms on a calibrated agent, detection delay on a temperature-2 agent
   (``--monitor-runs``, 1,000 by default).

Run: ``.venv/bin/python bench/calibration_learning.py`` (20 seeds and 1,000 monitoring runs,
about 45 s; ``--seeds 5`` for a quick look, ``--part method --margin-se 2`` for the choice with
a larger margin).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np
from scipy.special import expit, logit

from analytics_engine.calibration import CalibrationStats, calibration_errors
from analytics_engine.method_choice import choose_recalibration
from analytics_engine.monitoring import monitor_calibration
from analytics_engine.pooling import fit_pooled_recalibration, group_prior
from analytics_engine.recalibration import RecalibrationMap, fit_recalibration
from analytics_engine.team_pooling import team_prior
from analytics_engine.verdict import assess

HELD_OUT = 50_000
Truth = Callable[[np.ndarray], np.ndarray]


def tempered(temperature: float) -> Truth:
    return lambda p: expit(logit(np.clip(p, 1e-12, 1 - 1e-12)) / temperature)


def step(p: np.ndarray) -> np.ndarray:
    return np.where(p < 0.5, 0.25, 0.75)


def outcomes(rng: np.random.Generator, truth: Truth, n: int) -> tuple[np.ndarray, np.ndarray]:
    p = rng.random(n)
    return p, (rng.random(n) < truth(p)).astype(np.float64)


def held_out_ece(m: RecalibrationMap, fresh: tuple[np.ndarray, np.ndarray]) -> float:
    p, y = fresh
    return calibration_errors(CalibrationStats.from_arrays(m.apply(p), y)).ece


def pooling_runs(
    seeds: int, sizes: list[int], sibling_center: float, agent_center: float
) -> dict[str, dict[int, list[float]]]:
    results: dict[str, dict[int, list[float]]] = {}
    pooled_weights: dict[int, list[float]] = {n: [] for n in sizes}
    own_share: dict[int, list[float]] = {n: [] for n in sizes}
    for seed in range(seeds):
        rng = np.random.default_rng(20261207 + seed)
        spread = np.exp(0.15 * rng.standard_normal(12))
        temps = np.concatenate((sibling_center * spread[:11], [agent_center * spread[11]]))
        siblings = [
            CalibrationStats.from_arrays(*outcomes(rng, tempered(t), 1000)) for t in temps[:11]
        ]
        prior = group_prior(siblings)
        truth = tempered(float(temps[11]))
        stream = outcomes(rng, truth, max(sizes))
        fresh = outcomes(rng, truth, HELD_OUT)
        for n in sizes:
            stats = CalibrationStats.empty()
            if n:
                stats.add_many(stream[0][:n], stream[1][:n])
            pooled = fit_pooled_recalibration(stats, prior)
            chosen = choose_recalibration(stats, pooled=pooled)
            maps = {
                "raw confidence": RecalibrationMap.identity(),
                "today: fit_recalibration (by n)": fit_recalibration(stats),
                "own Platt fit": fit_recalibration(stats, method="platt") if n else None,
                "pooled (fit_pooled_recalibration)": pooled.map,
                "chosen by evidence, pooled offered": chosen.map,
            }
            for name, m in maps.items():
                value = held_out_ece(m, fresh) if m is not None else float("nan")
                results.setdefault(name, {k: [] for k in sizes})[n].append(value)
            pooled_weights[n].append(pooled.pooled_weight)
            own_share[n].append(1.0 if pooled.source == "own" else 0.0)
    results["(mean pooled weight)"] = pooled_weights
    results["(share kept own fit: conflict)"] = own_share
    return results


def _median(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.median(finite)) if finite else float("nan")


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def print_pooling(title: str, results: dict[str, dict[int, list[float]]], sizes: list[int]) -> None:
    print(f"\n{title}")
    print(f"{'map':<40}" + "".join(f"{'n=' + str(n):>10}" for n in sizes))
    for name, by_n in results.items():
        summary = _median if not name.startswith("(") else _mean  # shares: the mean
        row = "".join(f"{summary(by_n[n]):>10.4f}" for n in sizes)
        print(f"{name:<40}{row}")
    today = results["today: fit_recalibration (by n)"]
    own = results["own Platt fit"]
    for name in ("pooled (fit_pooled_recalibration)", "chosen by evidence, pooled offered"):
        ratios = []
        for n in sizes:
            base = min(_median(today[n]), _median(own[n]) if n else np.inf)
            ratios.append(_median(results[name][n]) / base)
        print(f"{name + ' / best own':<40}" + "".join(f"{r:>9.2f}x" for r in ratios))


def team_runs(seeds: int, sizes: list[int]) -> None:
    """Three teams of four agents, team temperatures 1.25, 2 and 4 (each agent's spread around
    its team's: log-sd 0.15), 1,000 outcomes each but agent 12 (team 3)."""
    rows: dict[str, dict[int, list[float]]] = {}
    for seed in range(seeds):
        rng = np.random.default_rng(40_000 + seed)
        centres = np.repeat([1.25, 2.0, 4.0], 4)
        temps = centres * np.exp(0.15 * rng.standard_normal(12))
        labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
        siblings = [
            CalibrationStats.from_arrays(*outcomes(rng, tempered(t), 1000)) for t in temps[:11]
        ]
        org, team = group_prior(siblings), team_prior(siblings, labels, 2)
        truth = tempered(float(temps[11]))
        stream = outcomes(rng, truth, max(sizes))
        fresh = outcomes(rng, truth, HELD_OUT)
        for n in sizes:
            stats = CalibrationStats.empty()
            if n:
                stats.add_many(stream[0][:n], stream[1][:n])
            maps = {
                "today: fit_recalibration (by n)": fit_recalibration(stats),
                "own Platt fit": fit_recalibration(stats, method="platt") if n else None,
                "pooled toward the organisation": fit_pooled_recalibration(stats, org).map,
                "pooled toward the team (team_prior)": fit_pooled_recalibration(stats, team).map,
            }
            for name, m in maps.items():
                value = held_out_ece(m, fresh) if m is not None else float("nan")
                rows.setdefault(name, {k: [] for k in sizes})[n].append(value)
    print(
        f"\nTeams (temperatures 1.25 / 2 / 4, agent 12 in the third): median held-out ECE, "
        f"{seeds} seeds"
    )
    print(f"{'map':<40}" + "".join(f"{'n=' + str(n):>10}" for n in sizes))
    for name, by_n in rows.items():
        print(f"{name:<40}" + "".join(f"{_median(by_n[n]):>10.4f}" for n in sizes))


def print_targets(
    alike: dict[str, dict[int, list[float]]], unlike: dict[str, dict[int, list[float]]]
) -> None:
    pooled = "pooled (fit_pooled_recalibration)"
    print("\nTargets (issue #18)")
    for n, target in ((50, 0.020), (200, 0.015)):
        value = float(np.median(alike[pooled][n]))
        verdict = "met" if value <= target else "NOT met"
        print(f"  alike, n={n}: pooled {value:.4f} <= {target}: {verdict}")
    for n in (50, 200, 1000):
        own = min(
            float(np.median(unlike["today: fit_recalibration (by n)"][n])),
            float(np.median(unlike["own Platt fit"][n])),
        )
        value = float(np.median(unlike[pooled][n]))
        verdict = "met" if value <= 1.1 * own else "NOT met"
        print(f"  unlike, n={n}: pooled {value:.4f} vs own {own:.4f} (<= +10 %): {verdict}")


def held_out_log_loss(m: RecalibrationMap, fresh: tuple[np.ndarray, np.ndarray]) -> float:
    p, y = fresh
    q = np.clip(m.apply(p), 1e-4, 1 - 1e-4)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))


def method_runs(seeds: int, sizes: list[int], margin_se: float, first_seed: int = 0) -> None:
    """The chosen map's held-out ECE against Platt's and isotonic's on the same outcomes, and
    the held-out log loss (the choice's own criterion, which a coarse map cannot flatter: a map
    with a few levels has a small ECE on its own few values whatever it misses within them)."""
    truths: dict[str, Truth] = {"logistic (temperature 2)": tempered(2.0), "step 0.25 / 0.75": step}
    for label, truth in truths.items():
        print(
            f"\nMethod choice (margin {margin_se:g} SE), {label}: median held-out ECE over "
            f"{seeds} seeds (from {first_seed}), then median held-out log loss"
        )
        print(
            f"{'n':>7} {'platt':>8} {'isotonic':>9} {'today':>8} {'chosen':>8} "
            f"{'chosen/best':>12} {'<=1.1x':>8} {'LL platt':>9} {'LL iso':>7} {'LL chosen':>10}"
            f"  chosen methods"
        )
        for n in sizes:
            rows: dict[str, list[float]] = {"platt": [], "isotonic": [], "today": [], "chosen": []}
            loss: dict[str, list[float]] = {"platt": [], "isotonic": [], "chosen": []}
            picked: dict[str, int] = {}
            for seed in range(first_seed, first_seed + seeds):
                rng = np.random.default_rng(7_000_000 + 1000 * seed + n)
                stats = CalibrationStats.from_arrays(*outcomes(rng, truth, n))
                fresh = outcomes(rng, truth, HELD_OUT)
                choice = choose_recalibration(stats, margin_se=margin_se)
                picked[choice.method] = picked.get(choice.method, 0) + 1
                maps = {
                    "platt": fit_recalibration(stats, method="platt"),
                    "isotonic": fit_recalibration(stats, method="isotonic"),
                    "today": fit_recalibration(stats),
                    "chosen": choice.map,
                }
                for name, m in maps.items():
                    rows[name].append(held_out_ece(m, fresh))
                    if name in loss:
                        loss[name].append(held_out_log_loss(m, fresh))
            med = {k: float(np.median(v)) for k, v in rows.items()}
            ll = {k: float(np.median(v)) for k, v in loss.items()}
            best = min(med["platt"], med["isotonic"])
            mix = ", ".join(f"{k} {v}" for k, v in sorted(picked.items(), key=lambda i: -i[1]))
            print(
                f"{n:>7} {med['platt']:>8.4f} {med['isotonic']:>9.4f} {med['today']:>8.4f} "
                f"{med['chosen']:>8.4f} {med['chosen'] / best:>11.2f}x "
                f"{'met' if med['chosen'] <= 1.1 * best else 'NOT met':>8} {ll['platt']:>9.4f} "
                f"{ll['isotonic']:>7.4f} {ll['chosen']:>10.4f}  {mix}"
            )


def z_rule_alarm(p: np.ndarray, y: np.ndarray, *, gates: bool, start: int = 0) -> int | None:
    """First outcome count (from ``start`` on) after which today's rule fires when judged after
    every outcome: ``assess`` with its defaults (|z| >= 3, n >= 100, effect-size gates) when
    ``gates``, else |z_OE| >= 3 or |Spiegelhalter Z| >= 3 from n = 100. ``assess`` is called
    only where a z statistic (running sums) reaches 3, a necessary condition for its alarm."""
    d = 1.0 - 2.0 * p
    with np.errstate(divide="ignore", invalid="ignore"):
        z_oe = np.abs(np.cumsum(y - p)) / np.sqrt(np.cumsum(p * (1.0 - p)))
        z_sp = np.abs(np.cumsum((y - p) * d)) / np.sqrt(np.cumsum(d * d * p * (1.0 - p)))
    n = np.arange(1, p.size + 1)
    steps = n[(n >= max(100, start)) & ((z_oe >= 3.0 - 1e-6) | (z_sp >= 3.0 - 1e-6))]
    if not gates:
        return int(steps[0]) if steps.size else None
    stats = CalibrationStats.empty()
    done = 0
    for t in steps.tolist():
        stats.add_many(p[done:t], y[done:t])
        done = t
        if assess(stats).is_actionable:
            return int(t)
    return None


def confirmed_alarm(p: np.ndarray, y: np.ndarray) -> int | None:
    """First outcome count after which the product's stored verdict acts: ``assess`` fires and
    the e-process has reached 20 by then (``verdict.confirm``)."""
    reached = monitor_calibration(p, y).first_alarm
    return None if reached is None else z_rule_alarm(p, y, gates=True, start=reached)


def monitor_runs(runs: int, horizon: int) -> None:
    print(
        f"\nAnytime-valid monitoring, judged after every outcome up to {horizon:,}; "
        f"{runs} calibrated runs, {runs} runs at temperature 2 (p ~ U(0, 1))"
    )
    rules: dict[str, Callable[[np.ndarray, np.ndarray], int | None]] = {
        "e-process (monitor_calibration, alpha 0.05)": lambda p, y: (
            monitor_calibration(p, y).first_alarm
        ),
        "today: assess() (|z|>=3, n>=100, gates)": lambda p, y: z_rule_alarm(p, y, gates=True),
        "|z|>=3 from n=100, no gates": lambda p, y: z_rule_alarm(p, y, gates=False),
        "product: assess() confirmed by the e-process": confirmed_alarm,
    }
    false: dict[str, int] = dict.fromkeys(rules, 0)
    delays: dict[str, list[float]] = {name: [] for name in rules}
    rng = np.random.default_rng(20261208)
    for _ in range(runs):
        p, y = outcomes(rng, lambda q: q, horizon)
        for name, rule in rules.items():
            false[name] += rule(p, y) is not None
        p, y = outcomes(rng, tempered(2.0), horizon)
        for name, rule in rules.items():
            first = rule(p, y)
            delays[name].append(float(first) if first is not None else float("inf"))
    print(f"{'rule':<46}{'false alarms':>16}{'median delay':>14}{'p90 delay':>11}{'missed':>8}")
    for name in rules:
        rate = false[name] / runs
        se = (rate * (1 - rate) / runs) ** 0.5
        d = np.array(delays[name])
        print(
            f"{name:<46}{rate:>9.1%} ± {se:.1%}{np.median(d):>14.0f}"
            f"{np.percentile(d, 90):>11.0f}{np.mean(~np.isfinite(d)):>8.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--part", choices=["pooling", "teams", "method", "monitor", "all"], default="all"
    )
    parser.add_argument("--monitor-runs", type=int, default=1000)
    parser.add_argument("--margin-se", type=float, default=1.0, help="choose_recalibration's")
    parser.add_argument(
        "--first-seed", type=int, default=0, help="method part: seeds from here (fresh seeds)"
    )
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    start = time.perf_counter()
    sizes = [0, 50, 200, 1000]
    if args.part in ("pooling", "all"):
        alike = pooling_runs(args.seeds, sizes, 2.0, 2.0)
        print_pooling(
            f"Pooling, siblings alike (temperatures around 2): median held-out ECE of agent 12, "
            f"{args.seeds} seeds",
            alike,
            sizes,
        )
        unlike = pooling_runs(args.seeds, sizes, 0.5, 2.0)
        print_pooling(
            f"Pooling, siblings the other way (around 0.5, agent 12 around 2), {args.seeds} seeds",
            unlike,
            sizes,
        )
        print_targets(alike, unlike)
    if args.part in ("teams", "all"):
        team_runs(args.seeds, [0, 50, 200, 1000])
    if args.part in ("method", "all"):
        method_runs(
            args.seeds, [100, 300, 1000, 3000, 10000, 20000], args.margin_se, args.first_seed
        )
    if args.part in ("monitor", "all"):
        monitor_runs(args.monitor_runs, 10_000)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
