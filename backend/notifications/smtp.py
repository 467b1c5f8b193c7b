"""Sending one e-mail over SMTP (aiosmtplib) with the settings' server, STARTTLS and login."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import aiosmtplib

from backend.notifications.models import Notification
from backend.retries import retrying_async
from backend.settings import Settings


def email_message(notification: Notification, *, sender: str, now: dt.datetime) -> EmailMessage:
    """A multipart/alternative message: the plain text, then the HTML."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = notification.address
    message["Subject"] = notification.subject
    message["Date"] = format_datetime(now)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    # Stable across retries, so a receiving server can tell a redelivery from a new message.
    message["Message-ID"] = f"<notification-{notification.id}@{domain}>"
    message.set_content(notification.body_text)
    message.add_alternative(notification.body_html, subtype="html")
    return message


async def send_email(settings: Settings, message: EmailMessage | bytes, **envelope: Any) -> None:
    """Deliver ``message`` to the configured SMTP server; raises on any refusal or failure.
    A message already flattened (bytes, sent as they are) needs its envelope: ``sender`` and
    ``recipients``."""
    if settings.smtp_host is None:
        raise RuntimeError("SMTP_HOST is not set")
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    host = settings.smtp_host
    # A server that refused the connection got nothing: tried twice more at once.
    await retrying_async(
        lambda: aiosmtplib.send(
            message,
            **envelope,
            hostname=host,
            port=settings.smtp_port,
            start_tls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=password if settings.smtp_username else None,
            timeout=settings.smtp_timeout_seconds,
        ),
        transient=(aiosmtplib.SMTPConnectError, ConnectionRefusedError),
    )
