"""A policy threshold that moves only on anytime-valid evidence, and back only on evidence the
other way of the same strength: a dead band around the target success rate, tested by betting.

The threshold ``θ`` (in raw confidence: ``escalate_below`` or ``autonomous_above``) should sit
where the success rate is ``target``. Outcomes whose raw confidence ``p`` lies within ``width``
of ``θ`` measure the success rate there, each moved to ``θ`` along the diagonal: ``z = y − p +
θ`` (the outcome's residual on its confidence, read at ``θ``), so that how the confidences
spread inside the window does not bias the rate (a calibrated agent whose confidences crowd the
window's upper half has a success rate there above ``θ``, but ``z`` averages ``θ``). Two bettors
watch them (Waudby-Smith & Ramdas 2023,
testing by betting; Shafer & Vovk 2019):

- ``raise`` tests ``H: E[z] ≥ target − margin`` by staking on ``(target − margin) − z``;
- ``lower`` tests ``H: E[z] ≤ target + margin`` by staking on ``z − (target + margin)``.

Each stakes ``λ ≥ 0`` chosen from its past payoffs (aGRAPA, §B.2 of Waudby-Smith & Ramdas:
``λ = μ̂/(σ̂² + μ̂²)`` of its payoffs, discounted with a half-life of 50 window outcomes so that
it follows a change), and only once that mean clears one standard error (a bettor that stakes
on noise inside the band loses wealth it would need after a real change), truncated so the
factor stays at least ``1/2`` whatever ``y`` turns out to be (the bound uses ``p``, known
before ``y``). Any stake chosen from the past keeps the guarantee: under its
hypothesis the payoff has conditional mean ``≤ 0``, so the bettor's wealth is a non-negative
supermartingale and by Ville's inequality it ever reaches ``1/alpha`` with probability at most
``alpha``: a move happens only on evidence that stays significant however often it is looked
at. When a bettor reaches ``1/alpha`` the threshold moves one ``step`` its way, both bettors
start again at the new threshold, and the state remembers the direction: a move back needs the
other bettor to reach the same ``1/alpha`` on outcomes after the move. Outcomes whose ``z``
lies inside the band ``[target − margin, target + margin]`` can never raise either bettor's
wealth, so a steady agent at its target does not move at all (not merely in small steps), and
a move cannot land beyond the far edge as long as one step changes the success rate by less
than ``2 · margin``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Direction = Literal["raise", "lower"]
_TRUNCATION = 0.5  # at most half of what the factor could lose is staked
_PRIOR_VARIANCE = 0.25  # one pseudo-outcome of payoff variance: tames the first bets
_MEMORY = 50.0  # half-life, in outcomes of the window, of the payoff mean the stakes follow
_FORGET = 0.5 ** (1.0 / _MEMORY)
_GATE = 1.0  # standard errors the recent mean payoff must clear before a bettor stakes


@dataclass(frozen=True)
class BandRule:
    """What the threshold aims for and how it moves.

    - ``target``: success rate wanted at the threshold (e.g. ``escalate_max_success``);
    - ``margin``: half-width of the dead band around ``target``;
    - ``width``: outcomes with ``|confidence − θ| ≤ width`` measure the rate at ``θ`` (less than
      ``target − margin`` and ``1 − target − margin`` away from the band, so that no outcome is
      a sure win for a bettor);
    - ``step``: size of one move; ``alpha``: a move needs an e-value of ``1/alpha``;
    - ``lower_bound``, ``upper_bound``: the threshold's range.
    """

    target: float
    margin: float = 0.05
    width: float = 0.2
    step: float = 0.05
    alpha: float = 0.01
    lower_bound: float = 0.05
    upper_bound: float = 0.99

    def __post_init__(self) -> None:
        for name in ("target", "margin", "width", "step", "lower_bound", "upper_bound"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        if not self.target - self.margin > 0.0 or not self.target + self.margin < 1.0:
            raise ValueError("target ± margin must lie inside (0, 1)")
        if not self.step > 0 or not self.width > 0:
            raise ValueError("step and width must be positive")
        if not self.width < min(self.target + self.margin, 1.0 - self.target + self.margin):
            raise ValueError("width must be less than target + margin and 1 − target + margin")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if self.lower_bound > self.upper_bound:
            raise ValueError("lower_bound must not exceed upper_bound")


@dataclass(frozen=True)
class BandState:
    """One threshold's state: where it is, which way it last moved, the outcomes in its window
    since then (``seen``), and both bettors' running sums: the discounted count ``n`` and each
    bettor's payoff sums (discounted, half-life 50 window outcomes: what its stakes follow) and
    its log wealth."""

    threshold: float
    last_move: Direction | None = None
    seen: int = 0
    n: float = 0.0
    raise_sum: float = 0.0
    raise_sum_sq: float = 0.0
    raise_log_wealth: float = 0.0
    lower_sum: float = 0.0
    lower_sum_sq: float = 0.0
    lower_log_wealth: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.threshold, int | float) and 0.0 <= self.threshold <= 1.0):
            raise ValueError(f"threshold must be a number in [0, 1], got {self.threshold!r}")
        if self.last_move not in (None, "raise", "lower"):
            raise ValueError(f"last_move must be 'raise', 'lower' or None, got {self.last_move!r}")

    def e_value(self, direction: Direction) -> float:
        """The bettor's wealth since the last move: the evidence for moving ``direction``."""
        return math.exp(self.raise_log_wealth if direction == "raise" else self.lower_log_wealth)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; ``from_dict`` inverts it exactly."""
        return {
            "threshold": self.threshold,
            "last_move": self.last_move,
            "seen": self.seen,
            "n": self.n,
            "raise_sum": self.raise_sum,
            "raise_sum_sq": self.raise_sum_sq,
            "raise_log_wealth": self.raise_log_wealth,
            "lower_sum": self.lower_sum,
            "lower_sum_sq": self.lower_sum_sq,
            "lower_log_wealth": self.lower_log_wealth,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BandState:
        last = data.get("last_move")
        return cls(
            threshold=float(data["threshold"]),
            last_move=last if last in ("raise", "lower") else None,
            seen=int(data["seen"]),
            n=float(data["n"]),
            raise_sum=float(data["raise_sum"]),
            raise_sum_sq=float(data["raise_sum_sq"]),
            raise_log_wealth=float(data["raise_log_wealth"]),
            lower_sum=float(data["lower_sum"]),
            lower_sum_sq=float(data["lower_sum_sq"]),
            lower_log_wealth=float(data["lower_log_wealth"]),
        )


@dataclass(frozen=True)
class BandMove:
    """One move: ``before`` -> ``after`` in ``direction``, after outcome ``outcome`` (1-based,
    within the batch given), on ``e_value`` (≥ ``1/alpha``) from the ``seen`` outcomes in the
    window since the previous move; ``reversal``: it went against the previous move."""

    direction: Direction
    before: float
    after: float
    outcome: int
    e_value: float
    seen: int
    reversal: bool


def _unit(values: float | ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not (arr.min() >= 0.0 and arr.max() <= 1.0):
        raise ValueError(f"{name} has values outside [0, 1] or NaN")
    return arr


def _discounted_sums(x: NDArray[np.float64], start: float, factor: float) -> NDArray[np.float64]:
    """``S_t = factor · S_{t−1} + x_t`` from ``S_0 = start``, for every ``t`` (an IIR filter)."""
    from scipy.signal import lfilter  # here: the server imports policies without scipy

    out, _ = lfilter([1.0], [1.0, -factor], x, zi=[factor * start])
    return np.asarray(out, dtype=np.float64)


def _log_wealth(
    payoff: NDArray[np.float64],
    n0: float,
    sum0: float,
    sum_sq0: float,
    cap: NDArray[np.float64],
) -> tuple[NDArray[np.float64], float, float, float]:
    """Log wealth after each payoff, staking aGRAPA's ``λ = μ̂/(σ̂² + μ̂²)`` of the payoffs
    before it, kept in ``[0, cap]`` (per payoff); and the discounted sums after the payoffs. The
    mean and variance are discounted (``_MEMORY``) so that a bettor that sat through a long steady
    stretch still stakes soon after a change; any stake chosen from the past keeps the wealth a
    supermartingale under the hypothesis."""
    n = _discounted_sums(np.ones_like(payoff), n0, _FORGET)
    total = _discounted_sums(payoff, sum0, _FORGET)
    total_sq = _discounted_sums(payoff * payoff, sum_sq0, _FORGET)
    # the sums before each payoff, discounted once more as the next payoff arrives
    count = _FORGET * np.concatenate(([n0], n[:-1])) + 1.0  # + 1: the prior pseudo-outcome
    before = _FORGET * np.concatenate(([sum0], total[:-1]))
    before_sq = _FORGET * np.concatenate(([sum_sq0], total_sq[:-1]))
    mean = before / count
    variance = (before_sq + _PRIOR_VARIANCE) / count - mean * mean
    # bet only once the recent payoffs are clearly positive: in the band they are negative on
    # average, and every stake placed on noise there is wealth lost before a real change
    clear = mean > _GATE * np.sqrt(variance / count)
    stake = np.where(clear, np.clip(mean / (variance + mean * mean), 0.0, cap), 0.0)
    out: NDArray[np.float64] = np.cumsum(np.log1p(stake * payoff))
    return out, float(n[-1]), float(total[-1]), float(total_sq[-1])


def policy_move(
    state: BandState, p: float | ArrayLike, y: float | ArrayLike, *, rule: BandRule
) -> tuple[BandState, tuple[BandMove, ...]]:
    """The threshold's state after the outcomes ``y`` (in [0, 1]) of raw confidences ``p``, in
    order, and the moves they caused (usually none; one per outcome at most).

    Guarantee: while the success rate of the outcomes in the window, each read at the threshold
    (``z = y − p + θ``), stays within ``[target − margin, target + margin]`` given the past,
    each move (and so each reversal) happens with
    probability at most ``alpha`` (Ville's inequality), at any horizon and however often this is
    called; outcomes whose ``z`` lies inside the band (graded ``y`` included) can never move it.

    >>> rule = BandRule(target=0.3)
    >>> rng = np.random.default_rng(0)
    >>> p = 0.2 + 0.2 * rng.random(20_000)  # every action near the threshold 0.3
    >>> steady, moves = policy_move(BandState(0.3), p, rng.random(20_000) < 0.3, rule=rule)
    >>> moves, steady.threshold
    ((), 0.3)
    >>> worse, moves = policy_move(steady, p[:2000], rng.random(2000) < 0.1, rule=rule)
    >>> [m.direction for m in moves][:2], moves[0].outcome < 500, moves[0].reversal
    (['raise', 'raise'], True, False)
    """
    if not isinstance(state, BandState):
        raise ValueError(f"state must be BandState, got {type(state).__name__}")
    if not isinstance(rule, BandRule):
        raise ValueError(f"rule must be BandRule, got {type(rule).__name__}")
    pa = _unit(p, "p")
    ya = _unit(y, "y")
    if pa.shape != ya.shape:
        raise ValueError(f"p and y must have the same length, got {pa.size} and {ya.size}")
    low, high = rule.target - rule.margin, rule.target + rule.margin
    level = math.log(1.0 / rule.alpha)
    moves: list[BandMove] = []
    s, offset = state, 0
    while offset < pa.size:
        inside = np.nonzero(np.abs(pa[offset:] - s.threshold) <= rule.width)[0]
        if inside.size == 0:
            break
        shift = s.threshold - pa[offset + inside]  # moves each outcome to the threshold
        z = ya[offset + inside] + shift
        up = low - z  # the raise bettor's payoff: success below the band
        down = z - high
        # the most each payoff can lose, known before its outcome: z lies in [shift, 1 + shift]
        path_up, n_up, sum_up, sq_up = _log_wealth(
            up, s.n, s.raise_sum, s.raise_sum_sq, _TRUNCATION / (1.0 + shift - low)
        )
        path_down, _, sum_down, sq_down = _log_wealth(
            down, s.n, s.lower_sum, s.lower_sum_sq, _TRUNCATION / (high - shift)
        )
        w_up = s.raise_log_wealth + path_up
        w_down = s.lower_log_wealth + path_down
        can_raise = s.threshold < rule.upper_bound
        can_lower = s.threshold > rule.lower_bound
        hit = ((w_up >= level) & can_raise) | ((w_down >= level) & can_lower)
        crossed = np.nonzero(hit)[0]
        if crossed.size == 0:
            s = replace(
                s,
                seen=s.seen + int(inside.size),
                n=n_up,
                raise_sum=sum_up,
                raise_sum_sq=sq_up,
                raise_log_wealth=float(w_up[-1]),
                lower_sum=sum_down,
                lower_sum_sq=sq_down,
                lower_log_wealth=float(w_down[-1]),
            )
            break
        k = int(crossed[0])
        rises = bool(can_raise and w_up[k] >= level and (w_up[k] >= w_down[k] or not can_lower))
        direction: Direction = "raise" if rises else "lower"
        after = s.threshold + rule.step if rises else s.threshold - rule.step
        after = round(min(max(after, rule.lower_bound), rule.upper_bound), 9)
        offset += int(inside[k]) + 1
        moves.append(
            BandMove(
                direction=direction,
                before=s.threshold,
                after=after,
                outcome=offset,
                e_value=math.exp(float(w_up[k] if rises else w_down[k])),
                seen=s.seen + k + 1,
                reversal=s.last_move is not None and s.last_move != direction,
            )
        )
        s = BandState(threshold=after, last_move=direction)
    return s, tuple(moves)
