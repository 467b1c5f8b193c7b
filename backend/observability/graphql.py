"""The GraphQL operations' metrics, as a Strawberry schema extension: each operation counted by
type and name, with the cost the cost-limit extension charged for it, and its errors by code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from strawberry.extensions import SchemaExtension

from backend.observability.metrics import count_operation


class CostReporter(Protocol):
    """An extension that reports each operation's cost, as `extensions.cost` says it."""

    report: dict[str, Any] | None


class OperationMetrics(SchemaExtension):
    """Counts the operation when it ends. Listed before the error-masking extension, it sees
    the errors once masked (with their codes); ``cost`` is the cost extension of the same
    operation (see `metered`)."""

    def __init__(self, cost: CostReporter | None = None) -> None:
        self.cost = cost

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        try:
            operation_type = context.operation_type.value
        except Exception:  # no document (a syntax error) or no such operation
            operation_type = "unknown"
        result = context.result
        errors = (result.errors if result is not None else None) or context.pre_execution_errors
        codes = [str((e.extensions or {}).get("code") or "unspecified") for e in errors or ()]
        report = self.cost.report if self.cost is not None else None
        cost = int(report.get("actualQueryCost") or 0) if report else None
        count_operation(operation_type, context.operation_name, cost, codes)


def metered(
    cost_limits: Callable[[], CostReporter],
) -> tuple[Callable[[], CostReporter], Callable[[], OperationMetrics]]:
    """Two extension factories, to be listed in this order: the cost extension, then the
    operation metrics that read its report. Strawberry makes an operation's extensions one
    after the other, in list order, so each metrics extension gets the cost extension made
    just before it, for the same operation."""
    made: list[CostReporter] = []

    def cost() -> CostReporter:
        made[:] = [cost_limits()]
        return made[0]

    def metrics() -> OperationMetrics:
        return OperationMetrics(made.pop() if made else None)

    return cost, metrics
