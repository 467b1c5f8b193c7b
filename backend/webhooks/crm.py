"""``POST /webhooks/crm``: deal stage changes, opportunities, wins, losses and meetings from a
CRM. Stages are the pipeline's names (``backend.crm.models.DealStage``); others go to labelling.
"""

from __future__ import annotations

from starlette.routing import Route

from backend.signals.models import SignalKind
from backend.webhooks.mapping import EventMapping, ProviderFormat
from backend.webhooks.receiver import Clock, signal_webhook_route

PATH = "/webhooks/crm"
SOURCE = "crm"
_DEAL = ("deal_id",)
_MEETING = ("thread_id", "deal_id")  # a meeting is found by its thread, else by its deal

CRM_EVENTS = ProviderFormat(
    type_field="event",
    time_field="occurred_at",
    events={
        # Payload fields: each kind's keys (`backend.signals.payloads`).
        "stage_changed": EventMapping(SignalKind.DEAL_STAGE_CHANGED, _DEAL),
        "opportunity_created": EventMapping(SignalKind.OPPORTUNITY_CREATED, _DEAL),
        "won": EventMapping(SignalKind.DEAL_WON, _DEAL),
        "lost": EventMapping(SignalKind.DEAL_LOST, _DEAL),
        "meeting_scheduled": EventMapping(SignalKind.MEETING_SCHEDULED, _MEETING),
        "meeting_attended": EventMapping(SignalKind.MEETING_ATTENDED, _MEETING),
        "meeting_no_show": EventMapping(SignalKind.MEETING_NO_SHOW, _MEETING),
        # Feedback without a usable rating is kept: the outcome rules send it to labelling.
        "meeting_feedback": EventMapping(SignalKind.MEETING_FEEDBACK, _MEETING),
    },
)


def crm_route(*, clock: Clock | None = None) -> Route:
    return signal_webhook_route(PATH, CRM_EVENTS, name="crm", source=SOURCE, clock=clock)
