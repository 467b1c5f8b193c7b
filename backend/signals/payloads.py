"""What each kind of signal may carry in its payload: the keys, their JSON types, which are
required. One definition for every way in (GraphQL `recordSignals`, the webhooks): a payload
with a key its kind does not know, without a required key, or with a value of the wrong type is
refused with the expected keys named, never guessed at (`{"from": ..., "to": ...}` for a stage
change used to be kept and sent to labelling).

Values are not second-guessed beyond their type: a stage, sentiment or rating the outcome rules
do not know is kept and goes to a person (`backend.outcomes.rules`), as documented.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.signals.models import SignalKind


@dataclass(frozen=True)
class PayloadSpec:
    """The keys of one kind's payload: name -> Python type (str or bool), and the required."""

    keys: Mapping[str, type] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    def expected(self) -> str:
        """The keys, for an error message: "from_stage, to_stage (required)", or "none"."""
        if not self.keys:
            return "none"
        return ", ".join(
            f"{name} (required)" if name in self.required else name for name in self.keys
        )


PAYLOADS: Mapping[str, PayloadSpec] = {
    # user_agent: what fetched the pixel or followed the link, as the provider saw it; tells
    # software (privacy proxies, scanners) from people (`backend.signals.engagement`)
    SignalKind.EMAIL_OPENED: PayloadSpec({"user_agent": str}),
    SignalKind.EMAIL_CLICKED: PayloadSpec({"url": str, "user_agent": str}),
    SignalKind.EMAIL_BOUNCED: PayloadSpec({"bounce_type": str}),
    # positive, neutral or negative; without it (or another word) a person labels the reply
    SignalKind.EMAIL_REPLIED: PayloadSpec({"sentiment": str}),
    # pipeline stage names; a move between names the pipeline does not know goes to labelling
    SignalKind.DEAL_STAGE_CHANGED: PayloadSpec(
        {"from_stage": str, "to_stage": str}, required=("to_stage",)
    ),
    SignalKind.OPPORTUNITY_CREATED: PayloadSpec(),
    SignalKind.DEAL_WON: PayloadSpec(),
    SignalKind.DEAL_LOST: PayloadSpec(),
    SignalKind.MEETING_SCHEDULED: PayloadSpec({"rescheduled": bool}),
    SignalKind.MEETING_ATTENDED: PayloadSpec(),
    SignalKind.MEETING_NO_SHOW: PayloadSpec(),
    # negative, neutral or positive; without a usable one a person labels the feedback
    SignalKind.MEETING_FEEDBACK: PayloadSpec({"rating": str}),
}
_TYPE_NAMES = {str: "a string", bool: "true or false"}


def payload_problems(kind: str, payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with ``payload`` for ``kind``: (key, message) pairs, none when it is
    right (or when the kind is unknown: that is the kind's own error)."""
    spec = PAYLOADS.get(kind)
    if spec is None:
        return []
    problems = []
    for key, value in payload.items():
        wanted = spec.keys.get(key)
        if wanted is None:
            problems.append((key, f"is not a key of {kind}; its keys: {spec.expected()}"))
        elif not isinstance(value, wanted):
            problems.append((key, f"must be {_TYPE_NAMES[wanted]}"))
    for key in spec.required:
        if key not in payload:
            problems.append((key, f"is required for {kind}; its keys: {spec.expected()}"))
    return problems
