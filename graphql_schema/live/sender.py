"""Sending a subscriber's `next` frames from the hub's dispatcher, without waking the
subscriber's own task: one synchronous step of the ASGI ``send`` per frame.

uvicorn's ``send`` returns without suspending while the connection can take more (its write
buffer below the high-water mark), so the dispatcher's loop over a thousand subscribers costs one
function call each, not a task wake-up and an await chain through Strawberry's operation. Only a
send that must wait (a client not reading) continues in a task of its own; that subscriber's
later frames queue behind it, in order, and past ``limit`` of them it is dropped
(``on_too_slow``: the hub ends it with `SubscriberTooSlow`, as a full queue in `backend.pubsub`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from graphql_schema.live.transport import OperationFrames

log = logging.getLogger(__name__)

Send = Coroutine[Any, Any, None]
_DISCONNECTED = (WebSocketDisconnect, RuntimeError, OSError)  # closed by either side


def step(send: Send) -> Any:
    """Run ``send`` until it suspends: what it waits on (an asyncio future, or None for a bare
    yield), or raise StopIteration when it finished without waiting."""
    return send.send(None)


async def finish(send: Send, waits_on: Any) -> None:
    """Drive a coroutine that `step` left suspended on ``waits_on`` to its end, as its task
    would have (only asyncio futures and bare yields are awaited on an asyncio loop)."""
    try:
        while True:
            if waits_on is None:
                await asyncio.sleep(0)
            else:
                waits_on._asyncio_future_blocking = False
                await asyncio.wait((waits_on,))  # its outcome is read by ``send`` itself
            waits_on = send.send(None)
    except StopIteration:
        return
    except asyncio.CancelledError:
        send.close()
        raise


class FrameSender:
    """The `next` frames of one subscription, sent on its WebSocket in order."""

    def __init__(
        self,
        socket: WebSocket,
        frames: OperationFrames,
        *,
        limit: int,
        on_too_slow: Callable[[], None],
    ) -> None:
        self._socket = socket
        self._frames = frames
        self._limit = limit
        self._on_too_slow = on_too_slow
        self._waiting: deque[str] | None = None  # frames behind a send that had to wait
        self._task: asyncio.Task[None] | None = None
        self.disconnected = False

    def send(self, payload: str) -> None:
        """Send the `next` frame of ``payload`` now, or queue it behind a waiting send."""
        if self.disconnected or not self._frames.open():
            return
        frame = self._frames.start + payload + "}"
        if self._waiting is not None:
            if len(self._waiting) >= self._limit:
                self.close()
                self._on_too_slow()
                return
            self._waiting.append(frame)
            return
        send = self._socket.send({"type": "websocket.send", "text": frame})
        try:
            waits_on = step(send)
        except StopIteration:
            return
        except _DISCONNECTED:  # the handler sees the disconnection and cancels the operation
            self.disconnected = True
            return
        except Exception:  # a bug: this subscriber only, never the dispatcher's other ones
            log.exception("live frame not sent")
            self.disconnected = True
            return
        self._waiting = deque()
        self._task = asyncio.create_task(self._drain(send, waits_on), name="live:send")

    async def _drain(self, send: Send, waits_on: Any) -> None:
        try:
            await finish(send, waits_on)
            while self._waiting:
                text = self._waiting.popleft()
                await self._socket.send({"type": "websocket.send", "text": text})
        except _DISCONNECTED:
            self.disconnected = True
        except Exception:
            log.exception("live frame not sent")
            self.disconnected = True
        finally:
            self._waiting, self._task = None, None

    def close(self) -> None:
        """Send nothing more (a send under way is cancelled)."""
        self.disconnected = True
        task, self._task = self._task, None
        if task is not None and task is not _current_task():
            task.cancel()


def _current_task() -> asyncio.Task[Any] | None:
    with contextlib.suppress(RuntimeError):
        return asyncio.current_task()
    return None
