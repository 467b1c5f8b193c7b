"""`FrameSender`: frames go out synchronously while the connection takes them; a send that must
wait finishes in a task with later frames queued behind it in order; past its limit the
subscriber is dropped; a closed connection is not written to again."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.websockets import WebSocketDisconnect
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

from graphql_schema.live.sender import FrameSender
from graphql_schema.live.transport import OperationFrames


class FakeSocket:
    """An ASGI-like ``send`` that waits while ``writable`` is clear, like uvicorn's."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.sent: list[str] = []
        self.closed = False

    async def send(self, message: dict[str, Any]) -> None:
        await self.writable.wait()
        if self.closed:
            raise WebSocketDisconnect(1006)
        self.sent.append(message["text"])


class FakeHandler:
    def __init__(self) -> None:
        self.operations: dict[str, Any] = {}


def operation_frames() -> OperationFrames:
    handler = FakeHandler()
    operation = Operation(handler, "op-1", "subscription { x }", None, None)  # type: ignore[arg-type]
    handler.operations[operation.id] = operation
    return OperationFrames(operation)


def sender_on(
    socket: FakeSocket, *, limit: int = 3, frames: OperationFrames | None = None
) -> tuple[FrameSender, list[str]]:
    dropped: list[str] = []
    sender = FrameSender(
        socket,  # type: ignore[arg-type]
        frames or operation_frames(),
        limit=limit,
        on_too_slow=lambda: dropped.append("too slow"),
    )
    return sender, dropped


def frame(payload: str) -> str:
    return f'{{"id":"op-1","type":"next","payload":{payload}}}'


async def test_frames_are_sent_without_waiting_while_the_socket_takes_them() -> None:
    socket = FakeSocket()
    sender, _ = sender_on(socket)
    sender.send("1")
    sender.send("2")
    # No await in between: both went out in the calls themselves.
    assert socket.sent == [frame("1"), frame("2")]


async def test_a_send_that_waits_keeps_later_frames_in_order() -> None:
    socket = FakeSocket()
    sender, dropped = sender_on(socket)
    socket.writable.clear()
    for n in "123":
        sender.send(n)
    assert socket.sent == []
    socket.writable.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert socket.sent == [frame(n) for n in "123"]
    assert dropped == []
    sender.send("4")  # synchronous again
    assert socket.sent[-1] == frame("4")


async def test_a_subscriber_past_its_limit_is_dropped_and_sent_nothing_more() -> None:
    socket = FakeSocket()
    sender, dropped = sender_on(socket, limit=2)
    socket.writable.clear()
    for n in "1234":  # one waiting, two queued, the fourth is one too many
        sender.send(n)
    assert dropped == ["too slow"]
    socket.writable.set()
    for _ in range(10):
        await asyncio.sleep(0)
    sender.send("5")
    assert socket.sent == []  # the waiting send was cancelled with the subscriber


async def test_a_closed_socket_is_not_written_again() -> None:
    socket = FakeSocket()
    sender, dropped = sender_on(socket)
    socket.closed = True
    sender.send("1")
    assert sender.disconnected
    socket.closed = False
    sender.send("2")
    assert socket.sent == [] and dropped == []


async def test_an_operation_the_client_completed_is_sent_nothing() -> None:
    socket = FakeSocket()
    frames = operation_frames()
    sender, _ = sender_on(socket, frames=frames)
    sender.send("1")
    frames._operation.handler.operations.clear()  # Strawberry forgets it, then cancels its task
    sender.send("2")
    assert socket.sent == [frame("1")]
