"""Quick retries of one outgoing call whose connection failed (refused, reset, unreachable), with
exponential backoff and jitter (tenacity), before the caller sees the failure: a partner's
webhook, the SMTP server, Google's signing keys. (Slack's Web API retries through its own SDK's
handlers.) By default only a refused connection is retried, which proves nothing was delivered
(a reset after sending might have delivered: a second copy is the outboxes' call, which retry
for hours with their own backoff); an idempotent read may name more."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

log = logging.getLogger(__name__)

T = TypeVar("T")
ATTEMPTS = 3  # the first and two more
FIRST_WAIT_SECONDS = 0.2  # then about 0.4 s: well within a delivery's or a request's time
# The wait between attempts (read at each call: the tests, which refuse connections on purpose
# by the hundred, put tenacity's `wait_none()` here).
WAIT: wait_base = wait_exponential_jitter(multiplier=FIRST_WAIT_SECONDS, max=2.0, jitter=0.1)


def _policy(transient: tuple[type[BaseException], ...]) -> dict[str, Any]:
    return {
        "stop": stop_after_attempt(ATTEMPTS),
        "wait": WAIT,
        "retry": retry_if_exception_type(transient),
        "before_sleep": before_sleep_log(log, logging.WARNING),
        "reraise": True,
    }


def retrying(
    call: Callable[[], T], *, transient: tuple[type[BaseException], ...] = (ConnectionRefusedError,)
) -> T:
    """``call()``, tried again while it raises one of ``transient``; its last error otherwise."""
    for attempt in Retrying(**_policy(transient)):
        with attempt:
            return call()
    raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover


async def retrying_async(
    call: Callable[[], Awaitable[T]],
    *,
    transient: tuple[type[BaseException], ...] = (ConnectionRefusedError,),
) -> T:
    """The same for a coroutine function."""
    async for attempt in AsyncRetrying(**_policy(transient)):
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover
