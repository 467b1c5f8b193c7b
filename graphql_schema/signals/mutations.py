"""GraphQL: `recordSignals` (a batch of provider events, from the agent or an integration)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.errors import DomainError, InvalidInput
from backend.learning import submit_signals
from backend.signals.service import MAX_BATCH, SignalBatchResult, SignalInput
from graphql_schema.errors import UserError
from graphql_schema.inputs import attempt, decode_id, with_error_paths


@strawberry.input(
    name="SignalInput",
    description="One event from a provider: an email opened, a reply, a stage change, ...",
)
class SignalItemInput:
    kind: str = strawberry.field(
        description="e.g. `email.replied`, `deal.stage_changed`, `meeting.attended`."
    )
    source: str = strawberry.field(description="Who saw it, e.g. `sendgrid`, `hubspot`.")
    external_id: str = strawberry.field(
        description="The source's id of the event: a signal is stored once per writer (the "
        "key that sends it), source and id, so a retry counts once and no other key's signal "
        "with the same id can suppress this one."
    )
    occurred_at: dt.datetime = strawberry.field(description="When it happened, with a zone.")
    payload: JSON | None = strawberry.field(
        default=None,
        description="The event's details; each kind has its own keys, and a key it does not "
        "know, a missing required one or a value of the wrong type is refused (error field "
        "`signals[i].payload.<key>`): `email.replied` {sentiment: positive, neutral or "
        "negative (else a person labels it)}; `email.opened` {user_agent: what fetched the "
        "pixel, to tell privacy proxies and scanners from people}; `email.clicked` {url, "
        "user_agent}; `email.bounced` "
        "{bounce_type}; `deal.stage_changed` {from_stage, to_stage (required): pipeline "
        "stages}; `meeting.scheduled` {rescheduled: boolean}; `meeting.feedback` {rating: "
        "negative, neutral or positive (else a person labels it)}; the other kinds none. "
        "Strings unless said.",
    )
    action_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the action it is about, when known."
    )
    message_external_id: str | None = strawberry.field(
        default=None, description="The provider's id of the message it is about."
    )
    thread_external_id: str | None = strawberry.field(
        default=None, description="The provider's id of the thread it is about."
    )
    deal_external_id: str | None = strawberry.field(
        default=None, description="The CRM's id of the deal it is about."
    )


@strawberry.input(
    description=with_error_paths(
        f"A batch of 1..{MAX_BATCH} signals; a redelivered signal counts as a duplicate and "
        "changes nothing.",
        "signals[2].kind",
    )
)
class RecordSignalsInput:
    signals: list[SignalItemInput] = strawberry.field(description="The signals, in any order.")

    def to_signal_inputs(self) -> list[SignalInput]:
        problems: list[DomainError] = []
        signals = []
        for i, item in enumerate(self.signals):
            action_id = None
            if item.action_id is not None:
                try:
                    action_id = decode_id(item.action_id, "Action", f"signals[{i}].actionId")
                except DomainError as problem:
                    problems.append(problem)
            signals.append(
                SignalInput(
                    kind=item.kind,
                    source=item.source,
                    external_id=item.external_id,
                    occurred_at=item.occurred_at,
                    # any JSON value: record_signals reports one that is not an object
                    payload=cast(dict[str, Any], item.payload) if item.payload is not None else {},
                    action_id=action_id,
                    message_external_id=item.message_external_id,
                    thread_external_id=item.thread_external_id,
                    deal_external_id=item.deal_external_id,
                )
            )
        if problems:
            raise InvalidInput(problems)
        return signals


@strawberry.type(description="A stored signal that matched no action (kept, never dropped).")
class UnmatchedSignal:
    source: str = strawberry.field(description="Its source.")
    external_id: str = strawberry.field(description="Its id at the source.")


@strawberry.type(description="What a batch of signals did, or what to fix.")
class RecordSignalsPayload:
    received: int | None = strawberry.field(default=None, description="Signals in the batch.")
    stored: int | None = strawberry.field(default=None, description="New signals stored.")
    duplicates: int | None = strawberry.field(
        default=None, description="Signals already stored before (or twice in the batch)."
    )
    matched: int | None = strawberry.field(
        default=None, description="New signals that matched an action."
    )
    resolved: int | None = strawberry.field(default=None, description="Outcomes they decided.")
    needs_label: int | None = strawberry.field(
        default=None, description="Outcomes they sent to a person for a label."
    )
    late: int | None = strawberry.field(
        default=None, description="Decisive signals that came after their outcome was decided."
    )
    unmatched: list[UnmatchedSignal] | None = strawberry.field(
        default=None, description="New signals that matched no action."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when the batch was taken."
    )

    @classmethod
    def of(cls, result: SignalBatchResult) -> RecordSignalsPayload:
        return cls(
            received=result.received,
            stored=result.stored,
            duplicates=result.duplicates,
            matched=result.matched,
            resolved=result.resolved,
            needs_label=result.needs_label,
            late=result.late,
            unmatched=[UnmatchedSignal(source=s, external_id=e) for s, e in result.unmatched],
        )


@strawberry.type
class SignalsMutation:
    @strawberry.mutation(
        description="Record a batch of signals (the agent's key, or an integration with "
        "`write:signals`): each is stored once, matched to its action and applied to its "
        "outcomes; calibration follows."
    )
    async def record_signals(
        self,
        info: Info,
        input: Annotated[RecordSignalsInput, strawberry.argument(description="The batch.")],
    ) -> RecordSignalsPayload:
        result, errors = await attempt(
            info,
            input,
            lambda viewer: submit_signals(
                info.context.state, viewer, input.to_signal_inputs(), now=info.context.now()
            ),
        )
        if result is None:
            return RecordSignalsPayload(errors=errors)
        return RecordSignalsPayload.of(result)
