"""The live feed: what happens on this box (print jobs, scans) pushed to pages as Server-Sent Events.

A kiosk page shows its badge's progress from here instead of polling, and
later the door and the TUI subscribe the same way.  Publishing never waits:
each subscriber has a bounded queue, and a slow subscriber (a tablet on bad
Wi-Fi) loses its *oldest* events rather than holding up a scan or a print.
A page that reconnects re-reads the current state over the API (e.g.
``GET /api/v1/print-jobs/{id}``), so a dropped event costs nothing durable.

Nothing here is persisted: the feed is notifications, the database is the
truth.  ``GET /api/v1/live`` accepts the kiosk's ``konferenco_kiosk`` cookie
as well as a bearer token, because ``EventSource`` cannot set headers
(``appliance/staff/guard.py``, opt ``kiosk_cookie``); no other route does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from appliance.staff.guard import ALL_ROLES, forbidden, roles, staff_of
from appliance.staff.service import StaffRole
from konferenco.errors import Invalid

#: Topics a client may ask for; an unknown topic is refused (a typo would otherwise be silence).
TOPICS = frozenset({"print", "scan", "tap"})
#: ``tap`` carries NFC tag UIDs read at the help desk: for the desk's staff, not a kiosk's screen.
DESK_TOPICS = frozenset({"tap"})
#: Events kept per subscriber before the oldest is dropped.
QUEUE_SIZE = 256
#: Seconds between ``: keepalive`` comments (proxies and browsers close silent streams).
KEEPALIVE_S = 15.0


class Subscription:
    """One listener's queue: bounded, oldest dropped first, never blocking the publisher."""

    def __init__(self, topics: frozenset[str], size: int = QUEUE_SIZE) -> None:
        self.topics = topics
        self._events: deque[tuple[str, bytes]] = deque(maxlen=size)
        self._ready = asyncio.Event()
        self.dropped = 0

    def put(self, topic: str, data: bytes) -> None:
        if len(self._events) == self._events.maxlen:
            self.dropped += 1
        self._events.append((topic, data))
        self._ready.set()

    async def get(self, wait_s: float) -> tuple[str, bytes] | None:
        """The next event, or None after ``wait_s`` seconds without one."""
        if not self._events:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), wait_s)
        return self._events.popleft() if self._events else None


class LiveFeed:
    """Publish/subscribe inside one appliance process (the box owns one; tests can make their own)."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def publish(self, topic: str, payload: Any) -> None:
        """Hand an event to every subscriber of ``topic``; encoded once, never awaits."""
        if not any(topic in s.topics for s in self._subscribers):
            return
        data = msgspec.json.encode(payload)
        for subscriber in list(self._subscribers):
            if topic in subscriber.topics:
                subscriber.put(topic, data)

    @contextlib.contextmanager
    def subscribe(self, topics: Iterable[str]) -> Any:
        subscription = Subscription(frozenset(topics))
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)


def parse_topics(value: str) -> frozenset[str]:
    topics = frozenset(t.strip() for t in value.split(",") if t.strip())
    unknown = sorted(topics - TOPICS)
    if unknown or not topics:
        raise Invalid(
            f"unknown topic {', '.join(unknown) or '(none)'}; choose from {', '.join(sorted(TOPICS))}",
            field="topics",
        )
    return topics


async def _stream(feed: LiveFeed, topics: frozenset[str], keepalive: float) -> AsyncIterator[Any]:
    with feed.subscribe(topics) as subscription:
        # the headers and a first line go out at once: the client knows it is subscribed
        yield ServerSentEventMessage(comment="connected", data=None)
        while True:
            event = await subscription.get(keepalive)
            if event is None:
                yield ServerSentEventMessage(comment="keepalive", data=None)
                continue
            topic, data = event
            yield ServerSentEventMessage(event=topic, data=data.decode())


@get(
    "/api/v1/live",
    summary="Live events (Server-Sent Events): print job changes and scans",
    description=(
        "`event: print` carries the PrintJob on every change of a job; `event: scan` carries "
        "`{scan_id, result, gate, attendee_id, at}`; `event: tap` (desk and organizer accounts "
        "only) carries what a help-desk reader read, `{device, nfc_uid, code, attendee_id, at}`, "
        "nothing decided; a `: keepalive` comment comes every 15 s. "
        "Accepts the kiosk's `konferenco_kiosk` cookie as well as a bearer token (EventSource "
        "cannot set headers)."
    ),
    tags=["live"],
    media_type="text/event-stream",  # what the OpenAPI document promises, and what is sent
    opt={**roles(*ALL_ROLES), "kiosk_cookie": True},
)
async def live(
    request: Request[Any, Any, Any],
    live_feed: NamedDependency[LiveFeed],
    topics: Annotated[str, QueryParameter(max_length=100)] = "print,scan",
) -> ServerSentEvent:
    chosen = parse_topics(topics)
    role = staff_of(request).role
    if chosen & DESK_TOPICS and role not in (StaffRole.DESK, StaffRole.ORGANIZER):
        raise forbidden(role, (StaffRole.DESK,))
    return ServerSentEvent(_stream(live_feed, chosen, KEEPALIVE_S), headers={"Cache-Control": "no-store"})


ROUTES = [live]
