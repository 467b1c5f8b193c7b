"""The live hub of one process: for each channel with local subscribers, ONE broker subscription
and ONE dispatcher task, however many subscribers.

For each event the dispatcher decides once per principal (the credential of `connection_init`,
re-checked at most every RECHECK_SECONDS, then its scope, organisation and whether it sees the
event: its agent, or an alert's team or agent, `Topic.sees`), applies each subscription's own
filter, executes and encodes the event once per distinct query document (`SharedDocument`), and
sends each subscriber its `next` frame from the dispatcher's own loop (`FrameSender`: one
synchronous step of the ASGI send, no wake-up of the subscriber's task). A subscriber without
a shared frame (not over `graphql-transport-ws`, or the shared execution failed) gets the event
on its bounded queue, and Strawberry sends it.

A subscriber whose queue or backlog of frames fills is dropped alone (`SubscriberTooSlow`); if
the channel's broker subscription is lost, every subscriber of the channel is dropped with the
reason. When its last subscriber leaves, a channel closes its broker subscription and is
forgotten: nothing is kept.

While it has channels, the hub also listens to the revocations of credentials
(`backend.auth.events.AccessRevoked`, announced by whichever process revoked them): the
principals they may concern (by organisation and key, or person) are checked again at once, and
the subscriptions of a credential that stopped working end with `unauthenticated` then
`complete`, without waiting for an event or for RECHECK_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLResolveInfo
from starlette.websockets import WebSocket

from backend.auth.events import ACCESS_REVOKED_CHANNEL, AccessRevoked
from backend.errors import DomainError, ErrorCode
from backend.observability.metrics import count_dropped_subscriber
from backend.pubsub import (
    SUBSCRIBER_QUEUE_SIZE,
    Fanout,
    Message,
    SubscriberTooSlow,
    Subscription,
    SubscriptionLost,
)
from backend.state import AppState
from backend.viewer import Viewer
from graphql_schema.context import Context
from graphql_schema.live import release
from graphql_schema.live.access import (
    CHECKED_AT_KEY,
    CredentialChecks,
    EventCheck,
    ScopeCheck,
    credential_digest,
    sees_agent_event,
)
from graphql_schema.live.documents import DocumentKey, SharedDocument
from graphql_schema.live.sender import FrameSender
from graphql_schema.live.transport import OperationFrames

log = logging.getLogger(__name__)

_HUB_KEY = "live.hub"
RELEASE_AFTER = 100  # subscribers gone before freed memory is returned to the system
RELEASE_DELAY_SECONDS = 2.0  # for their connections to close too

Filter = Callable[[dict[str, Any]], bool]  # a subscription's own arguments, on the event's data
Frames = tuple[WebSocket, OperationFrames]  # where to send shared `next` frames, and which


@dataclass(frozen=True)
class Topic:
    """What the subscriptions of one channel need: the scope to hold, who may receive each
    event (by default: who sees its agent) and the event's type."""

    scope: ScopeCheck
    to_type: Callable[[Message], Any]
    sees: EventCheck = sees_agent_event


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event as delivered to every subscriber of one document: the event object (for a
    subscriber without a shared document) and its `next` payload encoded once, if any."""

    event: Any
    payload: str | None


def credential_of(context: Context) -> str:
    params = context.connection_params or {}
    return str(params.get("Authorization") or params.get("authorization") or "")


class Member:
    """One subscription operation: its queue, its filter, its document, its principal, and the
    sender of its shared frames when it has one."""

    def __init__(
        self,
        channel: LiveChannel,
        principal: Principal,
        context: Context,
        queue: Subscription[Delivery],
        wanted: Filter,
        document: SharedDocument | None,
        sender: FrameSender | None,
    ) -> None:
        self.channel = channel
        self.principal = principal
        self.context = context
        self.queue = queue
        self.wanted = wanted
        self.document = document
        self.sender = sender
        self.refused: Exception | None = None  # why its principal may no longer receive

    def receive(self, delivery: Delivery) -> None:
        if self.sender is not None and delivery.payload is not None:
            self.sender.send(delivery.payload)
        elif not self.queue.ended:
            self.queue.offer(delivery)
            if self.queue.ended:  # its queue was full: dropped (`SubscriberTooSlow`)
                count_dropped_subscriber()

    def refuse(self, error: Exception) -> None:
        """End it with ``error`` (raised by its subscription), once it read what it holds."""
        self.refused = error
        self.queue.end(None)

    async def leave(self) -> None:
        if self.sender is not None:
            self.sender.close()
        await self.queue.aclose()
        await self.channel.remove(self)


@dataclass
class Principal:
    """The members of one channel that presented one credential (in any connection)."""

    key: str  # the credential's digest
    credential: str
    not_before: float  # re-check what was proved before the newest member joined
    members: set[Member]


class LiveChannel:
    def __init__(self, hub: LiveHub, name: str, topic: Topic) -> None:
        self.hub = hub
        self.name = name
        self.topic = topic
        self.principals: dict[str, Principal] = {}
        self.documents: dict[DocumentKey, tuple[SharedDocument, int]] = {}
        self._source = hub.state.broker.subscribe(name)
        self._closed = False
        self._task = asyncio.create_task(self._run(), name=f"live:{name}")

    def add(
        self,
        context: Context,
        wanted: Filter,
        info: GraphQLResolveInfo | None,
        not_before: float,
        frames: Frames | None,
    ) -> Member:
        credential = credential_of(context)
        key = credential_digest(credential)
        principal = self.principals.get(key)
        if principal is None:
            principal = self.principals[key] = Principal(key, credential, not_before, set())
        principal.not_before = max(principal.not_before, not_before)
        document = None
        if info is not None:
            shared, users = self.documents.get(SharedDocument.key_of(info), (None, 0))
            document = shared or SharedDocument.of(info)
            self.documents[document.key] = (document, users + 1)
        queue = self.hub.queues.add(self.name, _nothing_to_start)
        sender = None
        if frames is not None and document is not None:
            socket, operation = frames
            limit = self.hub.queues.queue_size

            def too_slow() -> None:
                if not queue.ended:
                    count_dropped_subscriber()
                queue.end(SubscriberTooSlow.behind(self.name, limit))

            sender = FrameSender(socket, operation, limit=limit, on_too_slow=too_slow)
        member = Member(self, principal, context, queue, wanted, document, sender)
        principal.members.add(member)
        return member

    async def remove(self, member: Member) -> None:
        principal = member.principal
        principal.members.discard(member)
        if not principal.members and self.principals.get(principal.key) is principal:
            del self.principals[principal.key]
        if member.document is not None:
            shared, users = self.documents[member.document.key]
            if users > 1:
                self.documents[member.document.key] = (shared, users - 1)
            else:
                del self.documents[member.document.key]
        if not self.principals:
            await self.close()
        self.hub.left()

    async def close(self) -> None:
        """Forget the channel and end its broker subscription (its task then ends)."""
        if self._closed:
            return
        self._closed = True
        self.hub.forget(self)
        await self._source.aclose()

    async def _run(self) -> None:
        lost: SubscriptionLost | None = None
        try:
            async for message in self._source:
                try:
                    await self._deliver(message)
                except Exception:  # a malformed event must not stop the channel
                    log.exception("live event on %s not delivered: %s", self.name, message)
        except SubscriptionLost as exc:
            lost = exc
        finally:
            self.hub.forget(self)
            self._closed = True
            for principal in list(self.principals.values()):
                for member in list(principal.members):
                    member.queue.end(lost)
            await self._source.aclose()

    async def _deliver(self, message: Message) -> None:
        data = message.get("data") or {}
        organization = message.get("organization_id")
        event: Any = None
        deliveries: dict[DocumentKey | None, Delivery] = {}
        for principal in list(self.principals.values()):
            viewer = await self._authorise(principal)
            if viewer is None or viewer.organization_id != organization:
                continue
            if not self.topic.sees(viewer, data):
                continue
            for member in list(principal.members):
                member.context.viewer = viewer
                if member.queue.ended or not member.wanted(data):
                    continue
                if event is None:
                    event = self.topic.to_type(message)
                key = None if member.document is None else member.document.key
                delivery = deliveries.get(key)
                if delivery is None:
                    payload = None if member.document is None else member.document.payload(event)
                    delivery = deliveries[key] = Delivery(event, payload)
                member.receive(delivery)

    async def _authorise(self, principal: Principal) -> Viewer | None:
        """The principal's current viewer holding the channel's scope; None (and its members
        ended with the reason) when it may no longer receive."""
        state = self.hub.state
        try:
            viewer = await CredentialChecks.of(state).viewer(
                state, principal.credential, not_before=principal.not_before
            )
            self.topic.scope(viewer)
            return viewer
        except Exception as refused:  # DomainError: an answer; anything else: masked as a bug
            if not isinstance(refused, DomainError):
                log.exception("live check of a credential failed on %s", self.name)
            for member in list(principal.members):
                member.context.viewer = None
                member.refuse(refused)
            return None


async def _nothing_to_start() -> None:
    return None  # a member's queue is filled by its channel's task, already listening


class LiveHub:
    """Per process (one per `AppState`): the channels with local subscribers.

    When the subscribers fall to half of their peak or fewer, at least RELEASE_AFTER of them
    gone, the memory they freed is returned to the system RELEASE_DELAY_SECONDS later (once
    their connections are closed too: `graphql_schema.live.release`)."""

    def __init__(self, state: AppState, queue_size: int = SUBSCRIBER_QUEUE_SIZE) -> None:
        self.state = state
        self.queues: Fanout[Delivery] = Fanout(queue_size)
        self.channels: dict[str, LiveChannel] = {}
        self._peak = 0  # subscribers, since memory was last released
        self._release: asyncio.TimerHandle | None = None
        self._revocations: Subscription[Message] | None = None  # while there are channels
        self._revocations_task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, state: AppState) -> LiveHub:
        hub = state.caches.get(_HUB_KEY)
        if hub is None:
            hub = state.caches[_HUB_KEY] = cls(state)
        return hub

    def join(
        self,
        context: Context,
        *,
        channel: str,
        topic: Topic,
        wanted: Filter,
        info: GraphQLResolveInfo | None,
        frames: Frames | None,
    ) -> Member:
        """Register a subscriber now (it receives every event dispatched from here on); its
        shared frames go straight to ``frames``' WebSocket when given."""
        live = self.channels.get(channel)
        if live is None:
            live = self.channels[channel] = LiveChannel(self, channel, topic)
        self._watch_revocations()
        # Events need a check at least as new as the connection's (`CredentialChecks.connect`);
        # a connection checked elsewhere is re-checked at its first event.
        checked_at = context.extensions.setdefault(CHECKED_AT_KEY, time.monotonic())
        member = live.add(context, wanted, info, checked_at, frames)
        refused = CredentialChecks.of(self.state).refusal(member.principal.key)
        if refused is not None:  # revoked since its connection was checked
            member.refuse(
                DomainError(ErrorCode.UNAUTHENTICATED, f"credentials no longer valid: {refused}")
            )
        self._peak = max(self._peak, self.queues.count())
        return member

    def left(self) -> None:
        """A subscriber left: release freed memory after a large enough fall."""
        count = self.queues.count()
        if self._peak - count < RELEASE_AFTER or count > self._peak // 2:
            return
        self._peak = count
        if self._release is None:
            loop = asyncio.get_running_loop()
            self._release = loop.call_later(RELEASE_DELAY_SECONDS, self._release_now)

    def _release_now(self) -> None:
        self._release = None
        release.release_freed_memory()

    def forget(self, channel: LiveChannel) -> None:
        if self.channels.get(channel.name) is channel:
            del self.channels[channel.name]
        if not self.channels and self._revocations is not None:
            revocations, self._revocations = self._revocations, None
            revocations.end(None)  # its task ends

    def _watch_revocations(self) -> None:
        if self._revocations is None:
            self._revocations = self.state.broker.subscribe(ACCESS_REVOKED_CHANNEL)
            self._revocations_task = asyncio.create_task(
                self._end_revoked(self._revocations), name=f"live:{ACCESS_REVOKED_CHANNEL}"
            )

    async def _end_revoked(self, revocations: Subscription[Message]) -> None:
        try:
            async for message in revocations:
                try:
                    await self.recheck(AccessRevoked.of_message(message))
                except Exception:  # a malformed announcement must not stop the others
                    log.exception("access revocation not applied: %s", message)
        except SubscriptionLost as lost:  # the channels are lost too: their clients come back
            log.warning("live: access revocations no longer heard (%s)", lost)
        finally:
            if self._revocations is revocations:
                self._revocations = None
            await revocations.aclose()

    async def recheck(self, revoked: AccessRevoked) -> int:
        """Check again, now, every principal that ``revoked`` may concern (by the viewer of its
        last check), and end the subscriptions of those refused; how many were checked."""
        checks = CredentialChecks.of(self.state)
        concerned = []
        for channel in list(self.channels.values()):
            for principal in list(channel.principals.values()):
                viewer = checks.last_viewer(principal.key)
                if viewer is not None and revoked.concerns(
                    organization_id=viewer.organization_id,
                    user_id=viewer.user_id,
                    api_client_id=viewer.api_client_id,
                ):
                    concerned.append((channel, principal))
        now = time.monotonic()  # what was proved before the revocation is not enough
        for channel, principal in concerned:
            principal.not_before = max(principal.not_before, now)
            await channel._authorise(principal)
        return len(concerned)

    def subscriber_count(self, channel: str | None = None) -> int:
        return self.queues.count(channel)
