"""Which recalibration map an agent gets, and why: its map pooled with its siblings' (the other
agents of the organisation for the action type) or its own, chosen by leave-one-out evidence.

Pure computing over statistics the service has already read from the rollups; the ``basis``
is the JSON stored with the map (``calibration_verdicts.recalibration_basis``).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from analytics_engine.calibration import STAT_FIELDS, CalibrationStats
from analytics_engine.method_choice import MethodChoice, choose_recalibration
from analytics_engine.pooling import (
    GroupPrior,
    PooledRecalibration,
    fit_pooled_recalibration,
    random_effects,
    sibling_fits,
)
from analytics_engine.recalibration import RecalibrationMap
from analytics_engine.team_pooling import TeamEffects, team_blup, team_effects

MIN_BETWEEN_SD = 0.05  # the engine's default: no agent is ever pooled completely


@dataclass(frozen=True)
class MapChoice:
    """The map in use for a scope and the JSON account of why (``basis``)."""

    map: RecalibrationMap
    basis: dict[str, Any]


class _Memo:
    """A bounded memo of pure computations keyed by the exact numbers they read: an agent's
    statistics change only when its outcomes resolve, so its siblings' fits and priors are
    mostly the same from one re-assessment to the next. Holds numbers only, keyed by content."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[bytes, Any] = OrderedDict()
        self.lock = threading.Lock()  # re-assessments compute in worker threads

    def get(self, key: bytes, compute: Callable[[], Any]) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = compute()  # outside the lock: two threads may compute the same, harmlessly
        with self.lock:
            self.items[key] = value
            if len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_FITS = _Memo(4096)  # an agent's own Platt fit (θ̂, V) or None, by its statistics
_BETWEEN = _Memo(1024)  # the between-agent covariance T, by the fits it is estimated from
_TEAMS = _Memo(256)  # the three-level model's spreads, by the fits and teams they come from


def _own_fit(stats: CalibrationStats) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """The agent's maximum-likelihood Platt fit and its covariance (``sibling_fits``), or None
    when not identified."""
    table = np.stack([stats.field(name) for name in STAT_FIELDS])

    def compute() -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        fits = sibling_fits([stats])
        return (fits.params[0], fits.covariances[0]) if fits.params.shape[0] else None

    return cast(
        "tuple[NDArray[np.float64], NDArray[np.float64]] | None",
        _FITS.get(table.tobytes() + bytes([stats.n_bins]), compute),
    )


class Siblings:
    """The agents of one organisation and action type with each agent's own Platt fit, from
    which the prior of any of them is drawn.

    The between-agent covariance ``T`` is estimated once from every agent with an identified
    fit (REML, ``random_effects``: the costly step, about 10 ms); each agent's prior mean is
    then its siblings' alone, ``μ₋ᵢ = (Σ_{j≠i} W_j)⁻¹ Σ_{j≠i} W_j θ̂_j`` with
    ``W_j = (V_j + T)⁻¹`` (the same estimator of ``μ`` given ``T``, Morris 1983), so the prior's
    centre holds none of the agent's own data. Re-estimating ``T`` without each agent as well
    (``group_prior`` of the siblings) would cost one REML per agent; on the engine's bench
    (11 siblings of temperature about 2, 20 seeds) the two made the same pooled-or-own
    decision for an unlike agent (temperature 0.5) at 50, 200 and 1,000 outcomes, and slopes
    within 0.01 for an alike agent up to 200 outcomes (0.04 at 1,000, where the pooled weight
    is small)."""

    def __init__(
        self, stats: Mapping[int, CalibrationStats], teams: Mapping[int, int] | None = None
    ) -> None:
        self.stats = dict(stats)
        self.teams = dict(teams or {})
        fits = {agent: _own_fit(s) for agent, s in sorted(self.stats.items())}
        self.fitted = [agent for agent, fit in fits.items() if fit is not None]
        self.params = np.array([fits[a][0] for a in self.fitted]).reshape(-1, 2)  # type: ignore[index]
        self.covs = np.array([fits[a][1] for a in self.fitted]).reshape(-1, 2, 2)  # type: ignore[index]
        self.labels = [self.teams.get(a, -1) for a in self.fitted]
        # The three-level model needs every fitted agent's team and at least two teams.
        self.by_team = -1 not in self.labels and len(set(self.labels)) >= 2

    def toward(self, agent_id: int | None) -> str:
        """Whose agents the prior of ``agent_id`` leans toward: ``team`` or ``organization``
        (a brand-new agent's, ``None``, is the organisation's)."""
        return "team" if self.by_team and agent_id in self.teams else "organization"

    def _between(self) -> NDArray[np.float64]:
        params, covs = self.params, self.covs

        def compute() -> NDArray[np.float64]:
            effects = random_effects(params, covs, min_between_sd=MIN_BETWEEN_SD)
            return np.asarray(effects.between, dtype=np.float64)

        return cast(NDArray[np.float64], _BETWEEN.get(params.tobytes() + covs.tobytes(), compute))

    def _team_effects(self) -> TeamEffects:
        params, covs, labels = self.params, self.covs, self.labels

        def compute() -> TeamEffects:
            return team_effects(params, covs, labels, min_between_sd=MIN_BETWEEN_SD)

        key = params.tobytes() + covs.tobytes() + np.array(labels, dtype=np.int64).tobytes()
        return cast(TeamEffects, _TEAMS.get(key, compute))

    def prior(self, *, excluding: int | None = None) -> GroupPrior | None:
        """The prior of agent ``excluding`` (None: of a brand-new agent) from the other agents'
        fits; None with fewer than two of them. With the agents' teams known (two teams or
        more), an agent's prior is the three-level model's (``team_pooling``): it leans toward
        its own team's agents as much as the teams differ; a brand-new agent's is the
        organisation's."""
        keep = np.array([agent != excluding for agent in self.fitted], dtype=bool)
        if keep.sum() < 2:
            return None
        kept = [a for a, k in zip(self.fitted, keep.tolist(), strict=True) if k]
        if self.toward(excluding) == "team":
            assert excluding is not None  # a brand-new agent's prior is the organisation's
            return team_blup(
                self.params[keep],
                self.covs[keep],
                [self.teams[a] for a in kept],
                self._team_effects(),
                self.teams[excluding],
                n=float(sum(self.stats[a].n for a in kept)),
            )
        between = self._between()
        weights = np.linalg.inv(self.covs[keep] + between)
        mean = np.linalg.solve(
            weights.sum(axis=0), np.einsum("kij,kj->i", weights, self.params[keep])
        )
        n = float(sum(self.stats[a].n for a in kept))
        return GroupPrior(mean=mean, between=between, n_agents=len(kept), n=n)


def _number(value: float) -> float | None:
    return round(float(value), 6) if math.isfinite(value) else None


def _basis(
    pooled: PooledRecalibration, choice: MethodChoice, source: str, weight: float, reason: str
) -> dict[str, Any]:
    return {
        "source": source,
        "pooledWeight": _number(weight),
        "chosen": choice.method,
        "leaveOneOutLogLoss": {k: _number(v) for k, v in choice.loo_log_loss.items()},
        "choiceReason": choice.reason,
        "siblings": pooled.n_siblings,
        "priorIntercept": _number(pooled.prior_intercept),
        "priorSlope": _number(pooled.prior_slope),
        "betweenSdIntercept": _number(pooled.between_sd_intercept),
        "betweenSdSlope": _number(pooled.between_sd_slope),
        "conflictPValue": _number(pooled.conflict_p_value),
        "n": _number(choice.n),
        "reason": reason,
    }


def choose_agent_map(
    stats: CalibrationStats, prior: GroupPrior | None, *, toward: str | None = None
) -> MapChoice:
    """The agent's map: the best by leave-one-out log loss among its own candidates (identity,
    Platt, isotonic, histogram) and its map pooled under ``prior`` (``choose_recalibration``);
    with no outcomes, the pooled map (the identity when nothing can be pooled).

    ``source`` says where the map in use comes from: ``pooled`` (the pooled candidate won;
    ``pooledWeight`` its share from the siblings), ``own`` (the agent's own fit: unlike its
    siblings, or its own candidate had the better evidence) or ``unpooled`` (fewer than two
    siblings with an identified fit). ``toward`` (``Siblings.toward``, or ``"past"`` for an
    agent's own map before a change as the prior) is recorded as ``pooledToward`` when there
    was a prior to pool with."""
    pooled = fit_pooled_recalibration(stats, prior, min_between_sd=MIN_BETWEEN_SD)
    choice = choose_recalibration(stats, pooled=pooled)
    if choice.method == "pooled":
        source, weight, reason = "pooled", pooled.pooled_weight, pooled.reason
    elif pooled.source == "own":
        source, weight, reason = "own", 0.0, pooled.reason
    elif pooled.source == "unpooled":
        source, weight = "unpooled", 0.0
        reason = (
            "Fewer than two other agents of this action type have an identified fit, so "
            f"nothing is pooled: {choice.method} chosen on this agent's {choice.n:g} outcomes."
        )
    else:
        source, weight, reason = "own", 0.0, choice.reason
    basis = _basis(pooled, choice, source, weight, reason)
    if toward is not None and pooled.n_siblings:
        basis["pooledToward"] = toward
    if prior is not None and prior.origin == "past":
        basis["siblings"] = 0  # its prior is its own past, not other agents
    return MapChoice(choice.map, basis)


def newcomer_map(prior: GroupPrior | None) -> MapChoice | None:
    """The map a brand-new agent of the action type starts from: the organisation's pooled map
    (``None`` when fewer than two agents have an identified fit)."""
    if prior is None:
        return None
    return choose_agent_map(CalibrationStats.empty(), prior)
