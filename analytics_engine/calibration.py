"""Calibration of confidence against outcomes, from per-bin sufficient statistics.

The public entry point: statistics (``calibration_stats``), scores and tests
(``calibration_metrics``) and reliability curves (``reliability``). See docs/calibration.md.

>>> stats = CalibrationStats.empty(n_bins=20)
>>> stats.add_many([0.9, 0.8, 0.3, 0.7], [1.0, 0.0, 0.0, 1.0])
>>> stats.add(0.6, 1.0)
>>> round(brier_decomposition(stats).brier, 4)
0.198
"""

from analytics_engine.calibration_metrics import (
    BrierDecomposition,
    CalibrationErrors,
    DebiasedCalibrationError,
    HosmerLemeshow,
    ObservedExpected,
    SpiegelhalterTest,
    brier_decomposition,
    calibration_errors,
    debiased_calibration_error,
    equal_mass_bins,
    hosmer_lemeshow,
    log_loss,
    observed_expected,
    spiegelhalter_test,
)
from analytics_engine.calibration_stats import (
    DEFAULT_N_BINS,
    STAT_FIELDS,
    BinContribution,
    CalibrationStats,
    bin_index,
    combine_with_half_life,
    contribution,
    decay_factor,
    require_outcomes,
)
from analytics_engine.reliability import (
    CorpReliability,
    ReliabilityCurve,
    corp_reliability,
    reliability_curve,
)

__all__ = [
    "DEFAULT_N_BINS",
    "STAT_FIELDS",
    "BinContribution",
    "BrierDecomposition",
    "CalibrationErrors",
    "CalibrationStats",
    "CorpReliability",
    "DebiasedCalibrationError",
    "HosmerLemeshow",
    "ObservedExpected",
    "ReliabilityCurve",
    "SpiegelhalterTest",
    "bin_index",
    "brier_decomposition",
    "calibration_errors",
    "combine_with_half_life",
    "contribution",
    "corp_reliability",
    "debiased_calibration_error",
    "decay_factor",
    "equal_mass_bins",
    "hosmer_lemeshow",
    "log_loss",
    "observed_expected",
    "reliability_curve",
    "require_outcomes",
    "spiegelhalter_test",
]
