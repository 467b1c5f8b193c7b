"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, and alerts fired
on the learning loop's state."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.backend.conftest import Loop
from tests.factories import NOW


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: Message


@dataclass
class SmtpSink:
    """Keeps each message it is given."""

    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.original_content or envelope.content),
            )
        )
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    sink: SmtpSink = field(default_factory=SmtpSink)
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A port for an SMTP server, not yet listening (``start()`` it; down until then)."""
    server = SmtpServer(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def loop_at_now(loop: Loop) -> None:
    """The loop's clock stands at the factories' NOW: nothing here reads the wall clock."""
    loop.state.clock = lambda: NOW
