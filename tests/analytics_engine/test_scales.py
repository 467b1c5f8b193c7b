"""Outcome scales: normalisation, lookups, validation and the outcome-type registry."""

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_engine import scales
from analytics_engine.scales import (
    BINARY,
    DEAL_PROGRESSION,
    DEFAULT_FEEDBACK_SCALES,
    DEFAULT_OUTCOME_SCALES,
    FIVE_LEVEL,
    FIVE_STAR,
    THREE_LEVEL,
    THUMBS,
    Scale,
    scale_for,
)

ALL_SCALES = [BINARY, THREE_LEVEL, FIVE_LEVEL, DEAL_PROGRESSION, THUMBS, FIVE_STAR]


def test_docstring_examples_run() -> None:
    result = doctest.testmod(scales)
    assert result.attempted > 0 and result.failed == 0


def test_predefined_scales_normalise_to_equally_spaced_values() -> None:
    assert [BINARY.normalise(level) for level in BINARY.levels] == [0.0, 1.0]
    assert [THREE_LEVEL.normalise(level) for level in THREE_LEVEL.levels] == [0.0, 0.5, 1.0]
    assert [FIVE_LEVEL.normalise(level) for level in FIVE_LEVEL.levels] == [0, 0.25, 0.5, 0.75, 1]
    assert DEAL_PROGRESSION.normalise("significant") == 0.75
    assert THUMBS.normalise("up") == 1.0
    assert FIVE_STAR.normalise("3") == 0.5


@pytest.mark.parametrize("scale", ALL_SCALES, ids=lambda s: s.name)
def test_lookups_are_inverse_of_each_other(scale: Scale) -> None:
    for i, level in enumerate(scale.levels):
        assert scale.index(level) == i
        assert scale.label(i) == level
        assert scale.level_of(scale.normalise(level)) == level


def test_normalise_many_matches_normalise_and_accepts_integers_for_stars() -> None:
    labels = ["positive", "negative", "neutral", "positive"]
    expected = [THREE_LEVEL.normalise(label) for label in labels]
    np.testing.assert_array_equal(THREE_LEVEL.normalise_many(labels), expected)
    np.testing.assert_array_equal(FIVE_STAR.normalise_many([1, 5, 2]), [0.0, 1.0, 0.25])
    assert THREE_LEVEL.normalise_many([]).shape == (0,)


def test_unknown_level_raises_naming_it() -> None:
    with pytest.raises(ValueError, match=r"'maybe'.*three_level"):
        THREE_LEVEL.normalise("maybe")
    with pytest.raises(ValueError, match="'maybe'"):
        THREE_LEVEL.normalise_many(["positive", "maybe"])


@pytest.mark.parametrize(
    ("name", "levels", "message"),
    [
        ("", ("a", "b"), "name"),
        ("s", ("a",), "at least 2"),
        ("s", ["a", "b"], "tuple"),
        ("s", ("a", "a"), "duplicate"),
        ("s", ("a", ""), "non-empty"),
    ],
)
def test_invalid_scales_raise(name: str, levels: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Scale(name, levels)


def test_bad_index_and_value_raise() -> None:
    with pytest.raises(ValueError, match="index 3"):
        THREE_LEVEL.label(3)
    with pytest.raises(ValueError, match="integer"):
        THREE_LEVEL.label(True)
    with pytest.raises(ValueError, match="value"):
        THREE_LEVEL.level_of(1.5)
    with pytest.raises(ValueError, match="value"):
        THREE_LEVEL.level_of(float("nan"))
    with pytest.raises(ValueError, match="one-dimensional"):
        THREE_LEVEL.normalise_many([["positive"]])


def test_registry_is_data_and_read_only() -> None:
    assert scale_for("email_reply") is BINARY
    assert scale_for("meeting_feedback") is THREE_LEVEL
    assert scale_for("deal_progression") is DEAL_PROGRESSION
    assert scale_for("escalation_quality") is FIVE_LEVEL
    assert scale_for("rating", registry={"rating": FIVE_STAR}) is FIVE_STAR
    assert DEFAULT_FEEDBACK_SCALES["thumbs"] is THUMBS
    with pytest.raises(TypeError):
        DEFAULT_OUTCOME_SCALES["x"] = BINARY  # type: ignore[index]
    with pytest.raises(ValueError, match="'phone_call' has no scale"):
        scale_for("phone_call")


@settings(max_examples=50, deadline=None)
@given(k=st.integers(2, 12), value=st.floats(0.0, 1.0))
def test_normalisation_is_monotone_in_unit_interval_and_level_of_is_nearest(
    k: int, value: float
) -> None:
    scale = Scale("generated", tuple(f"level_{i}" for i in range(k)))
    normalised = np.array([scale.normalise(level) for level in scale.levels])
    assert normalised[0] == 0.0 and normalised[-1] == 1.0
    assert (np.diff(normalised) > 0).all()
    nearest = scale.normalise(scale.level_of(value))
    assert abs(nearest - value) <= 0.5 / (k - 1) + 1e-12


@settings(max_examples=30, deadline=None)
@given(label=st.text(min_size=1, max_size=12))
def test_any_label_not_on_scale_raises(label: str) -> None:
    if label in FIVE_LEVEL.levels:
        return
    with pytest.raises(ValueError):
        FIVE_LEVEL.normalise(label)
