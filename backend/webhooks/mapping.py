"""Provider events to signals: the declarative shape of a provider's event format, and the one
function that maps a batch ``{"events": [...]}`` to signals, naming problems ``events[i].<field>``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from backend.errors import ErrorCode, Problems
from backend.signals.models import SignalKind
from backend.signals.payloads import PAYLOADS
from backend.signals.service import MAX_BATCH, SignalInput
from backend.webhooks.headers import UNSTORABLE_PROBLEM, storable

# Provider fields that say what an event is about, and the signal attribute each one fills.
REFERENCES: Mapping[str, str] = {
    "message_id": "message_external_id",
    "thread_id": "thread_external_id",
    "deal_id": "deal_external_id",
}
_JSON_TYPES: Mapping[type, str] = {str: "a string", bool: "true or false", int: "an integer"}
_SERVICE_FIELD = re.compile(r"^signals\[(?P<index>\d+)\]\.(?P<name>\w+)$")


@dataclass(frozen=True)
class EventMapping:
    """What one provider event type becomes."""

    kind: SignalKind
    references: tuple[str, ...]  # provider fields naming its subject; at least one is required

    @property
    def payload(self) -> Mapping[str, type]:
        """The fields copied into the signal's payload, with their type: its kind's keys."""
        return PAYLOADS[self.kind].keys

    @property
    def required(self) -> tuple[str, ...]:
        """The payload fields the event must carry."""
        return PAYLOADS[self.kind].required


@dataclass(frozen=True)
class ProviderFormat:
    """A provider's batch format: where the event type and time are, and what each type means."""

    type_field: str
    time_field: str
    events: Mapping[str, EventMapping]

    def provider_field(self, service_field: str | None) -> str | None:
        """The provider's name for a field the signal service complained about."""
        if service_field == "signals":
            return "events"
        match = _SERVICE_FIELD.match(service_field or "")
        if match is None:
            return service_field
        names = {
            "kind": self.type_field,
            "externalId": "id",
            "occurredAt": self.time_field,
            "messageExternalId": "message_id",
            "threadExternalId": "thread_id",
            "dealExternalId": "deal_id",
            "source": "source",
        }
        name = names.get(match["name"])
        return f"events[{match['index']}]" + (f".{name}" if name else "")


def _text(value: Any) -> str | None:
    """Provider ids arrive as strings or numbers; anything else is not an id."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _has_type(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def _of_type(kind: type) -> Callable[[Any], Any]:
    """A parser that keeps a value of type ``kind`` and turns any other into None."""
    return lambda value: value if _has_type(value, kind) else None


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An ISO-8601 timestamp with a zone, or unix seconds; None when it is neither."""
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
            # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-14:00 fall outside datetime in UTC
            return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else None
        except (ValueError, OverflowError):
            return None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _read(
    event: Mapping[str, Any],
    name: str,
    at: str,
    parse: Callable[[Any], Any],
    what: str,
    problems: Problems,
    *,
    required: bool,
) -> Any:
    """The parsed value of one field; a missing or unparsable value is recorded as a problem."""
    raw = event.get(name)
    if raw is None:
        if required:
            problems.add(at + name, f"is required: {what}", ErrorCode.REQUIRED)
        return None
    if isinstance(raw, str) and not storable(raw):
        problems.add(at + name, UNSTORABLE_PROBLEM)
        return None
    value = parse(raw)
    if value is None:
        problems.add(at + name, f"must be {what}")
    return value


def _signal(
    fmt: ProviderFormat, event: Mapping[str, Any], at: str, source: str, problems: Problems
) -> SignalInput | None:
    before = len(problems.errors)
    external_id = _read(
        event,
        "id",
        at,
        _text,
        "the provider's event id (string or number)",
        problems,
        required=True,
    )
    known = ", ".join(sorted(fmt.events))
    mapping = _read(
        event,
        fmt.type_field,
        at,
        lambda t: fmt.events.get(t) if isinstance(t, str) else None,
        f"one of {known}",
        problems,
        required=True,
    )
    occurred_at = _read(
        event,
        fmt.time_field,
        at,
        parse_timestamp,
        "an ISO-8601 timestamp with a time zone, or unix seconds",
        problems,
        required=True,
    )
    references = {
        name: _read(
            event, name, at, _text, "a non-empty string or a number", problems, required=False
        )
        for name in REFERENCES
    }
    if mapping is None:
        return None
    event_type = event[fmt.type_field]
    if not any(references[name] for name in mapping.references) and not any(
        event.get(name) is not None for name in mapping.references
    ):
        alternatives = " or ".join(mapping.references[1:])
        problems.add(
            at + mapping.references[0],
            f"is required for {event_type!r} events"
            + (f" (or {alternatives})" if alternatives else ""),
            ErrorCode.REQUIRED,
        )
    payload: dict[str, Any] = {}
    for name, kind in mapping.payload.items():
        value = _read(
            event,
            name,
            at,
            _of_type(kind),
            _JSON_TYPES[kind],
            problems,
            required=name in mapping.required,
        )
        if value is not None:
            payload[name] = value
    if len(problems.errors) > before:
        return None
    return SignalInput(
        kind=mapping.kind.value,
        source=source,
        external_id=external_id,
        occurred_at=occurred_at,
        payload=payload,
        **{REFERENCES[name]: references[name] for name in mapping.references},
    )


def signals_from_batch(fmt: ProviderFormat, document: Any, *, source: str) -> list[SignalInput]:
    """Map ``{"events": [...]}`` to one signal per event, in order; raise InvalidInput naming
    every problem (``events``, ``events[3].timestamp``, ...) when any event is unusable."""
    problems = Problems()
    if not isinstance(document, dict):
        problems.add("body", 'must be a JSON object {"events": [...]}')
        problems.raise_if_any()
    events = document.get("events")
    if events is None:
        problems.add("events", "is required: a list of provider events", ErrorCode.REQUIRED)
    elif not isinstance(events, list):
        problems.add("events", "must be a list of provider events")
    elif not events:
        problems.add("events", "send at least one event", ErrorCode.REQUIRED)
    elif len(events) > MAX_BATCH:
        problems.add("events", f"at most {MAX_BATCH} events per request, got {len(events)}")
    problems.raise_if_any()
    signals = []
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            problems.add(f"events[{i}]", "must be an object")
            continue
        signal = _signal(fmt, event, f"events[{i}].", source, problems)
        if signal is not None:
            signals.append(signal)
    problems.raise_if_any()
    return signals
