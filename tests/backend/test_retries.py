"""Quick retries of an outgoing call: a refused connection is tried twice more, then its error is
the caller's; other errors are never retried (a reset after sending might have delivered)."""

from __future__ import annotations

import socket

import pytest

from backend.retries import ATTEMPTS, retrying, retrying_async
from tests.servers import free_port


class Flaky:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "answered"


def test_a_refused_connection_is_tried_again_until_it_answers() -> None:
    flaky = Flaky([ConnectionRefusedError(), ConnectionRefusedError()])
    assert retrying(flaky) == "answered" and flaky.calls == 3


def test_after_its_attempts_the_last_error_is_the_callers() -> None:
    flaky = Flaky([ConnectionRefusedError("no")] * (ATTEMPTS + 1))
    with pytest.raises(ConnectionRefusedError, match="no"):
        retrying(flaky)
    assert flaky.calls == ATTEMPTS


@pytest.mark.parametrize("error", [ConnectionResetError(), TimeoutError(), ValueError()])
def test_what_might_have_been_delivered_is_not_retried(error: BaseException) -> None:
    flaky = Flaky([error])
    with pytest.raises(type(error)):
        retrying(flaky)
    assert flaky.calls == 1


async def test_the_same_for_coroutines() -> None:
    calls = 0

    async def call() -> int:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionRefusedError()
        return calls

    assert await retrying_async(call) == 3


def test_a_real_refused_socket_is_retried_as_many_times() -> None:
    """A port nobody listens on refuses each connection: three attempts, then the error."""
    port = free_port()
    attempts = 0

    def connect() -> None:
        nonlocal attempts
        attempts += 1
        socket.create_connection(("127.0.0.1", port), timeout=2).close()

    with pytest.raises(ConnectionRefusedError):
        retrying(connect)
    assert attempts == ATTEMPTS
