"""Outcome and feedback rating scales as data: ordered labels and their normalisation to [0, 1].

Which outcome type uses which scale is a mapping (``DEFAULT_OUTCOME_SCALES``), not a code path:
the backend may pass its own registry to :func:`scale_for`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class Scale:
    """An ordinal scale: ``levels`` are labels ordered from worst to best.

    Level ``i`` of ``k`` normalises to ``i / (k - 1)``, so the worst level is 0, the best 1 and
    the levels are equally spaced (the usual linear scoring of ordered categories, as in the
    equally spaced scores of Agresti, *Analysis of Ordinal Categorical Data*, 2010, sec. 2.1).

    >>> THREE_LEVEL.normalise("neutral")
    0.5
    >>> THREE_LEVEL.level_of(0.8)
    'positive'
    >>> FIVE_STAR.normalise_many(["1", "5", "4"]).tolist()
    [0.0, 1.0, 0.75]
    """

    name: str
    levels: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("name must be a non-empty string")
        if not isinstance(self.levels, tuple):
            raise ValueError(f"levels of scale {self.name!r} must be a tuple of labels")
        if len(self.levels) < 2:
            raise ValueError(f"levels of scale {self.name!r} must hold at least 2 labels")
        if not all(isinstance(level, str) and level for level in self.levels):
            raise ValueError(f"levels of scale {self.name!r} must be non-empty strings")
        if len(set(self.levels)) != len(self.levels):
            raise ValueError(f"levels of scale {self.name!r} has duplicate labels")

    @property
    def size(self) -> int:
        """Number of levels ``k``."""
        return len(self.levels)

    def index(self, level: str) -> int:
        """Position of ``level`` (0 = worst); ``ValueError`` naming an unknown label."""
        try:
            return self.levels.index(level)
        except ValueError:
            raise ValueError(
                f"level {level!r} is not on scale {self.name!r}; expected one of {self.levels}"
            ) from None

    def normalise(self, level: str) -> float:
        """Normalised value ``index / (k - 1)`` in [0, 1] of one label."""
        return self.index(level) / (self.size - 1)

    def normalise_many(self, levels: ArrayLike) -> NDArray[np.float64]:
        """Vectorised :meth:`normalise` of an array of labels (one lookup per distinct label)."""
        labels = np.asarray(levels, dtype=object)
        if labels.ndim != 1:
            raise ValueError(f"levels must be one-dimensional, got shape {labels.shape}")
        if labels.size == 0:
            return np.zeros(0)
        distinct, inverse = np.unique(labels.astype(str), return_inverse=True)
        values = np.array([self.normalise(str(label)) for label in distinct])
        return values[inverse]

    def label(self, index: int) -> str:
        """Label at position ``index`` (0 = worst)."""
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise ValueError(f"index must be an integer, got {index!r}")
        if not 0 <= index < self.size:
            raise ValueError(f"index {index} is outside scale {self.name!r} (0..{self.size - 1})")
        return self.levels[index]

    def level_of(self, value: float) -> str:
        """Label of the level nearest to a normalised ``value`` in [0, 1] (ties round half up)."""
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"value must be in [0, 1], got {value!r}")
        return self.levels[int(np.floor(value * (self.size - 1) + 0.5))]


BINARY = Scale("binary", ("negative", "positive"))
THREE_LEVEL = Scale("three_level", ("negative", "neutral", "positive"))
FIVE_LEVEL = Scale(
    "five_level", ("very_negative", "negative", "neutral", "positive", "very_positive")
)
# How far a deal moved within its window: no movement .. a major step (e.g. closed-won).
DEAL_PROGRESSION = Scale("deal_progression", ("none", "minimal", "some", "significant", "major"))

THUMBS = Scale("thumbs", ("down", "up"))
FIVE_STAR = Scale("five_star", ("1", "2", "3", "4", "5"))

DEFAULT_OUTCOME_SCALES: Mapping[str, Scale] = MappingProxyType(
    {
        "email_delivery": BINARY,
        "email_open": BINARY,
        "email_reply": BINARY,
        "engagement": BINARY,
        "meeting_scheduled": BINARY,
        "meeting_attendance": BINARY,
        "meeting_feedback": THREE_LEVEL,
        "deal_progression": DEAL_PROGRESSION,
        "deal_won": BINARY,
        "escalation_quality": FIVE_LEVEL,
    }
)

DEFAULT_FEEDBACK_SCALES: Mapping[str, Scale] = MappingProxyType(
    {"thumbs": THUMBS, "five_star": FIVE_STAR, "three_level": THREE_LEVEL}
)


def scale_for(
    outcome_type: str, *, registry: Mapping[str, Scale] = DEFAULT_OUTCOME_SCALES
) -> Scale:
    """The scale of ``outcome_type`` in ``registry``.

    >>> scale_for("deal_progression").normalise("some")
    0.5
    """
    try:
        return registry[outcome_type]
    except KeyError:
        raise ValueError(
            f"outcome_type {outcome_type!r} has no scale; known: {sorted(registry)}"
        ) from None
