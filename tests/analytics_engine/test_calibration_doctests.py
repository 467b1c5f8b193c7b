"""The runnable examples in the calibration modules' docstrings."""

import doctest
import importlib

import pytest

MODULES = [
    "analytics_engine.calibration",
    "analytics_engine.calibration_stats",
    "analytics_engine.calibration_batch",
    "analytics_engine.binning",
    "analytics_engine.logistic",
    "analytics_engine.calibration_metrics",
    "analytics_engine.reliability",
    "analytics_engine.isotonic",
    "analytics_engine.intervals",
    "analytics_engine.verdict",
    "analytics_engine.recalibration",
    "analytics_engine.policy",
    "analytics_engine.monitoring_simulation",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
