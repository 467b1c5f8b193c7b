"""No flapping: the escalation threshold of simulated agents under the dead-band rule
(``policy_band.policy_move``, what the backend's policies follow) and under the rule it
replaced (``verdict_rule`` below: the verdict, the recalibration map's inverse, a step limit and
a hysteresis), on the same outcomes (docs/calibration.md, "No flapping", records the output).

Agents state ``p ~ U(0, 1)`` and succeed with ``expit(logit(p) / 2)`` (overconfident,
temperature 2). A steady agent starts with its escalation threshold where its success rate is
the target (0.3): ``θ* = expit(2 · logit 0.3) = 0.155``, i.e. it sits at its escalation target,
and stays so. A planted change at outcome 2,500 shifts the log-odds of success so that the
success rate at the threshold falls to 0.15 (the threshold should rise, towards 0.52) or rises
to 0.45 (it should fall, to the lower bound 0.05).

Counted per run of 5,000 outcomes: moves and reversals (a move against the previous one). The
dead-band rule runs on every agent; the replaced rule on the first ``--today-agents`` steady
agents, re-assessed every ``--today-every`` outcomes on all the outcomes so far (the backend
did it after each outcome, so this undercounts its moves).

Run: ``.venv/bin/python bench/policy_flapping.py`` (1,000 agents per scenario, about a minute
on 2 cores; ``--agents 100 --today-agents 20`` for a quick look).
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time

import numpy as np
from scipy.special import expit, logit

from analytics_engine.calibration import CalibrationStats
from analytics_engine.policy import PolicyThresholds
from analytics_engine.policy_band import BandMove, BandRule, BandState, policy_move
from analytics_engine.recalibration import fit_recalibration
from analytics_engine.verdict import assess

HORIZON = 5000
CHANGE = 2500
TARGET = 0.3


def verdict_rule(current: PolicyThresholds, stats: CalibrationStats) -> PolicyThresholds:
    """The rule the backend used before the dead band: when the verdict is actionable, each
    threshold heads for the recalibration map's inverse at its target rate (0.3 and 0.7),
    at most 0.1 per adjustment, not at all for less than 0.02 (the hysteresis)."""
    if not assess(stats).is_actionable:
        return current
    recalibration = fit_recalibration(stats)

    def moved(value: float, rate: float) -> float:
        ideal = recalibration.inverse(rate)
        ideal = min(max(0.99 if np.isnan(ideal) else ideal, 0.05), 0.99)
        step = min(max(ideal - value, -0.1), 0.1)
        return value if abs(step) < 0.02 else round(value + step, 6)

    autonomy = moved(current.autonomous_above, 0.7)
    return PolicyThresholds(min(moved(current.escalate_below, 0.3), autonomy), autonomy)


def start_threshold(rate: float, shift: float = 0.0) -> float:
    """The raw confidence whose success rate is ``rate``: ``expit(logit(p)/2 + shift) = rate``."""
    return float(expit(2.0 * (logit(rate) - shift)))


def stream(rng: np.random.Generator, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Temperature 2 throughout; from outcome 2,500 the log-odds of success move by ``shift``."""
    p = rng.random(HORIZON)
    offset = np.where(np.arange(HORIZON) < CHANGE, 0.0, shift)
    return p, (rng.random(HORIZON) < expit(logit(p) / 2.0 + offset)).astype(np.float64)


def reversals(directions: list[str]) -> int:
    return sum(1 for a, b in itertools.pairwise(directions) if a != b)


def band_runs(agents: int, shift: float, rule: BandRule, seed: int) -> list[tuple[BandMove, ...]]:
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(agents):
        p, y = stream(rng, shift)
        _, moves = policy_move(BandState(start_threshold(TARGET)), p, y, rule=rule)
        runs.append(moves)
    return runs


def today_runs(agents: int, every: int, seed: int) -> list[tuple[list[float], list[float]]]:
    """Escalation and autonomy thresholds after each of today's moves, per agent."""
    rng = np.random.default_rng(seed)  # the same outcomes as the band rule's steady agents
    out = []
    for _ in range(agents):
        p, y = stream(rng, 0.0)
        current = PolicyThresholds(start_threshold(0.3), start_threshold(0.7))
        stats = CalibrationStats.empty()
        esc, auto = [current.escalate_below], [current.autonomous_above]
        for t in range(0, HORIZON, every):
            stats.add_many(p[t : t + every], y[t : t + every])
            after = verdict_rule(current, stats)
            if after != current:
                current = after
                if current.escalate_below != esc[-1]:
                    esc.append(current.escalate_below)
                if current.autonomous_above != auto[-1]:
                    auto.append(current.autonomous_above)
        out.append((esc, auto))
    return out


def path_directions(values: list[float]) -> list[str]:
    return ["raise" if b > a else "lower" for a, b in itertools.pairwise(values)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--today-agents", type=int, default=100)
    parser.add_argument("--today-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=20261207)
    defaults = BandRule(target=TARGET)
    for name in ("margin", "width", "step", "alpha"):
        parser.add_argument(f"--{name}", type=float, default=getattr(defaults, name))
    args = parser.parse_args()
    rule = BandRule(
        target=TARGET, margin=args.margin, width=args.width, step=args.step, alpha=args.alpha
    )
    started = time.perf_counter()
    print(
        f"Dead-band rule: target {rule.target}, margin {rule.margin}, window ±{rule.width}, "
        f"step {rule.step}, alpha {rule.alpha}; {args.agents} agents x {HORIZON:,} outcomes"
    )
    steady = band_runs(args.agents, 0.0, rule, args.seed)
    moved = sum(1 for m in steady if m)
    n_moves = sum(len(m) for m in steady)
    n_rev = sum(sum(1 for x in m if x.reversal) for m in steady)
    print(
        f"\nSteady agents (at their escalation target): {n_moves} moves in {moved} of "
        f"{args.agents} agents, {n_rev} reversals (target 0: {'met' if n_rev == 0 else 'NOT met'})"
    )
    drop = float(logit(0.15) - logit(TARGET))  # success at the threshold 0.30 -> 0.15
    rise = float(logit(0.45) - logit(TARGET))  # 0.30 -> 0.45
    for shift, label, right in ((drop, "0.30 -> 0.15", "raise"), (rise, "0.30 -> 0.45", "lower")):
        runs = band_runs(args.agents, shift, rule, args.seed + (1 if right == "raise" else 2))
        delays = []
        wrong_before = wrong_after = rev = 0
        finals = []
        for moves in runs:
            pre = [m for m in moves if m.outcome <= CHANGE]
            post = [m for m in moves if m.outcome > CHANGE]
            wrong_before += len(pre)
            wrong_after += sum(1 for m in post if m.direction != right)
            rev += sum(1 for m in moves if m.reversal)
            first = next((m for m in post if m.direction == right), None)
            if first is not None:
                delays.append(first.outcome - CHANGE)
            finals.append(moves[-1].after if moves else start_threshold(TARGET))
        ideal = min(max(start_threshold(TARGET, shift), rule.lower_bound), rule.upper_bound)
        detected = len(delays)
        print(
            f"\nPlanted change at outcome {CHANGE:,} (success at the threshold {label}: it "
            f"should {right} "
            f"towards {ideal:.3f})"
        )
        if delays:
            print(
                f"  moved {right} in {detected}/{args.agents} agents; delay to the first move "
                f"median {np.median(delays):.0f}, p90 {np.percentile(delays, 90):.0f} outcomes"
            )
        if not delays:
            print(f"  never moved {right}")
        print(
            f"  moves before the change {wrong_before}, wrong-way moves after it {wrong_after}, "
            f"reversals {rev}; final threshold median {np.median(finals):.3f} "
            f"(p10 {np.percentile(finals, 10):.3f}, p90 {np.percentile(finals, 90):.3f})"
        )
    band_time = time.perf_counter() - started
    if args.today_agents > 0:
        print(
            f"\nThe replaced verdict rule (step 0.1, hysteresis 0.02) on the first "
            f"{args.today_agents} steady agents' outcomes, every {args.today_every} outcomes"
        )
        today = today_runs(args.today_agents, args.today_every, args.seed)
        for index, name in ((0, "escalate_below"), (1, "autonomous_above")):
            moves_ = [len(run[index]) - 1 for run in today]
            revs = [reversals(path_directions(run[index])) for run in today]
            print(
                f"  {name}: {sum(moves_)} moves, {sum(revs)} reversals; agents with a "
                f"reversal {sum(1 for r in revs if r)}/{len(today)}; median per agent "
                f"{np.median(moves_):.0f} moves, {np.median(revs):.0f} reversals"
            )
        same = steady[: args.today_agents]
        print(
            f"  the dead-band rule on the same {len(same)} agents: "
            f"{sum(len(m) for m in same)} moves, "
            f"{sum(sum(1 for x in m if x.reversal) for m in same)} reversals"
        )
        example = today[0][0] if today else []
        path = ", ".join(f"{v:.3f}" for v in example[:12])
        print(f"  the verdict rule's escalate_below, first agent: {path}")
    print(
        f"\n{time.perf_counter() - started:.0f} s ({band_time:.0f} s the dead-band rule) on "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
