"""The engine's batch tests run once per implementation of calibration_batch.batch_sums. The
compiled kernel is skipped where the package was installed without a C compiler; with CI=true
its absence fails the run (CI has a compiler)."""

import os
from types import ModuleType

import pytest

from analytics_engine.calibration_batch import IMPLEMENTATIONS

IN_CI = os.environ.get("CI", "").lower() == "true"


def _require(name: str) -> None:
    if name not in IMPLEMENTATIONS:
        reason = f"analytics_engine._batch_kernel is not built (implementation {name!r})"
        if IN_CI:
            pytest.fail(f"{reason}: it is required when CI=true", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session", params=["compiled", "numpy"])
def batch_implementation(request: pytest.FixtureRequest) -> str:
    """A key of ``IMPLEMENTATIONS`` (session-scoped, so hypothesis tests may take it too)."""
    _require(request.param)
    return request.param


@pytest.fixture(scope="session")
def kernel() -> ModuleType:
    """The compiled module ``analytics_engine._batch_kernel``, for tests of its own interface."""
    _require("compiled")
    from analytics_engine import _batch_kernel

    return _batch_kernel
