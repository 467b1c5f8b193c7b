"""Calibration sufficient statistics of the seeded outcomes, summed with numpy.

The rows are exactly what the live path (``backend.calibration.rollup``) would have accumulated
outcome by outcome: one per (agent, action type, UTC day the action was taken, confidence bin),
holding the sums of ``analytics_engine.calibration.STAT_FIELDS``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analytics_engine.calibration import STAT_FIELDS, bin_index
from analytics_engine.calibration_batch import LOG_EPS
from backend.calibration.models import CALIBRATION_BINS
from backend.demo.simulation import DAY, KINDS

_EPOCH = dt.date(1970, 1, 1)


def contributions(p: NDArray[np.float64], y: NDArray[np.float64]) -> dict[str, NDArray[Any]]:
    """What each (confidence p, outcome y) pair adds to every field of its bin."""
    pc = np.clip(p, LOG_EPS, 1.0 - LOG_EPS)
    d = 1.0 - 2.0 * p
    return {
        "count": np.ones_like(p),
        "sum_p": p,
        "sum_p2": p * p,
        "sum_y": y,
        "sum_y2": y * y,
        "sum_py": p * y,
        "sum_sq_err": (p - y) ** 2,
        "sum_log_loss": -(y * np.log(pc) + (1.0 - y) * np.log(1.0 - pc)),
        "sum_spieg_num": (y - p) * d,
        "sum_spieg_var": d * d * p * (1.0 - p),
    }


def calibration_rows(
    *,
    organization_id: int,
    agent_id: int,
    kind: NDArray[np.intp],
    confidence: NDArray[np.float64],
    value: NDArray[np.float64],
    acted_s: NDArray[np.int64],
) -> list[dict[str, Any]]:
    """Rows of ``calibration_stats`` for one agent's resolved outcomes (arrays of equal length):
    ``confidence`` the action's, ``value`` the outcome's, ``acted_s`` when the action was taken."""
    if kind.size == 0:
        return []
    bins = np.asarray(bin_index(confidence, n_bins=CALIBRATION_BINS))
    keys, group = np.unique(np.stack([kind, acted_s // DAY, bins]), axis=1, return_inverse=True)
    group = group.ravel()
    sums = {
        name: np.bincount(group, weights=column, minlength=keys.shape[1])
        for name, column in contributions(confidence, value).items()
    }
    columns = [sums[name].tolist() for name in STAT_FIELDS]
    rows = []
    for g, (k, day, b) in enumerate(keys.T.tolist()):
        row: dict[str, Any] = {
            "organization_id": organization_id,
            "agent_id": agent_id,
            "action_type": KINDS[k].value,
            "day": _EPOCH + dt.timedelta(days=day),
            "bin": b,
        }
        row.update({name: column[g] for name, column in zip(STAT_FIELDS, columns, strict=True)})
        row["count"] = round(row["count"])
        rows.append(row)
    return rows
