"""A worker job run as operators see it: a job run id bound to each of its log lines, and its
run, items, duration and failure counted (`backend.observability.metrics`)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import structlog

from backend.observability.metrics import JOB_DURATION, JOB_FAILURES, JOB_ITEMS, JOB_RUNS


@dataclass
class JobRun:
    job: str
    run_id: str
    items: int = 0
    failed: bool = False

    def done(self, items: int) -> None:
        """What the run handled (the job's return value)."""
        self.items = items

    def fail(self) -> None:
        """The run failed (its exception was caught and logged inside the block)."""
        self.failed = True


@contextlib.contextmanager
def job_run(job: str) -> Iterator[JobRun]:
    """Observe one run of ``job``: the block is the run; it failed if it called ``fail()`` or
    an exception left it (counted, then raised again)."""
    run = JobRun(job, uuid.uuid4().hex[:16])
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(job=job, job_run_id=run.run_id):
        try:
            yield run
        except Exception:
            run.fail()
            raise
        finally:
            JOB_RUNS.labels(job).inc()
            if run.failed:
                JOB_FAILURES.labels(job).inc()
            JOB_DURATION.labels(job).observe(time.perf_counter() - started)
            if run.items > 0:
                JOB_ITEMS.labels(job).inc(run.items)
