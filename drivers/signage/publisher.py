"""The appliance's connection to the signage broker: publishes room state, alerts and commands.

paho runs its own network thread (``loop_start``), which also reconnects
with exponential backoff.  Its callbacks only forward what happened to the
owner's asyncio loop; every decision and every ``publish`` call happens on
that loop.  So there is no lock of our own to take while paho holds one of
its own (it holds its message lock while calling ``on_publish``: a lock on
both sides would deadlock).

While the broker is away nothing is handed to paho (it would queue every
intermediate state and replay them all): the :class:`Outbox` keeps the
latest payload per topic and the publisher sends them when it connects
again, right after ``online`` on the status topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from drivers.base import DeviceState, Manifest, State, load_manifest
from drivers.signage.displays import STALE_AFTER_MS, DisplayTable
from drivers.signage.outbox import Outbox, Pending
from drivers.signage.payloads import (
    Alert,
    AlertLevel,
    CommandArg,
    CommandName,
    DisplayCommand,
    DisplaySeen,
    GrassrootsNotice,
    RoomCapacity,
    RoomNext,
    RoomNow,
    RoomSchedule,
    Session,
    capacity_state,
    encode,
    validated,
)
from drivers.signage.topics import Topics
from konferenco.types import now_ms

log = logging.getLogger(__name__)

MANIFEST: Manifest = load_manifest(__file__)
ONLINE, OFFLINE = b"online", b"offline"
QOS = 1
#: Grassroots notices kept while the broker is away (the oldest go first): news, but bounded.
NOTICES_KEPT = 100

P = TypeVar("P", bound=msgspec.Struct)


class SignagePublisher:
    """One venue's signage topics on one broker (see docs/signage-protocol.md).

    Publishing methods may be called before :meth:`connect` and while the
    broker is away: the state waits (latest only) and goes out on connect.
    Call them from the loop that called :meth:`connect`.
    """

    manifest = MANIFEST

    def __init__(
        self,
        *,
        venue: str,
        host: str = "127.0.0.1",
        port: int = 1883,
        client_id: str = "",
        tls: bool = False,
        username: str = "",
        password: str = "",
        keepalive: int = 15,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 30,
        stale_after_ms: int = STALE_AFTER_MS,
    ) -> None:
        self.topics = Topics(venue)
        self.host, self.port = host, port
        self.client_id = client_id or f"konferenco-{venue}-{socket.gethostname()}"[:64]
        self.tls, self.username, self.password = tls, username, password
        self.keepalive = keepalive
        self.reconnect = (reconnect_min_s, reconnect_max_s)
        self._outbox = Outbox()
        self._notices: deque[tuple[str, bytes]] = deque(maxlen=NOTICES_KEPT)  # waiting for a connection
        self._revs: dict[str, int] = {}
        self._displays = DisplayTable(stale_after_ms=stale_after_ms)
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = False
        self._state: State = "disconnected"
        self._detail = "not started"
        self._since = now_ms()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SignagePublisher:
        """Built from the manifest's settings; an unknown key is an error, so a typo is not ignored."""
        known = {s.name for s in MANIFEST.settings}
        unknown = set(settings) - known
        if unknown:
            raise ValueError(f"unknown signage settings: {', '.join(sorted(unknown))}")
        values = {s.name: s.default for s in MANIFEST.settings if s.default is not None} | dict(settings)
        if "venue" not in values:
            raise ValueError("signage needs a venue")
        return cls(**values)

    @property
    def unique_id(self) -> str:
        return f"mqtt:{self.client_id}@{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._connected

    # --- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Start the client; returns at once, connecting (and reconnecting) in paho's thread."""
        if self._client is not None:
            return
        self._loop = asyncio.get_running_loop()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        client.suppress_exceptions = True  # an exception in a callback must not end the network thread
        client.will_set(self.topics.status(), OFFLINE, qos=QOS, retain=True)
        client.reconnect_delay_set(*self.reconnect)
        if self.username:
            client.username_pw_set(self.username, self.password or None)
        if self.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._client = client
        self._set_state("disconnected", f"connecting to {self.host}:{self.port}")
        client.connect_async(self.host, self.port, keepalive=self.keepalive)
        client.loop_start()

    async def disconnect(self) -> None:
        """Say "offline" (a clean disconnect does not fire the Last Will), then stop; idempotent."""
        client, self._client = self._client, None
        if client is None:
            return
        was_connected, self._connected = self._connected, False  # publishing from now on only queues
        self._outbox.reset_in_flight()
        if was_connected:
            info = client.publish(self.topics.status(), OFFLINE, qos=QOS, retain=True)
            try:
                await asyncio.to_thread(info.wait_for_publish, 2.0)
            except (ValueError, RuntimeError) as error:
                log.warning("signage: could not announce offline: %s", error)
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)
        self._set_state("disconnected", "stopped")

    def state(self) -> DeviceState:
        detail = self._detail
        waiting = self._outbox.waiting()
        if not self._connected and waiting:
            detail += f"; {waiting} display update{'s' if waiting != 1 else ''} waiting"
        return DeviceState(
            unique_id=self.unique_id,
            domain=MANIFEST.domain,
            name=f"Signage broker {self.host}:{self.port}",
            state=self._state,
            detail=detail,
            since=self._since,
        )

    # --- what the appliance publishes ------------------------------------------------------

    async def publish_room_schedule(
        self, room: str, sessions: Sequence[Session], *, name: str = "", day: str = "", tz: str = ""
    ) -> RoomSchedule:
        """The room's whole day, retained; sessions are sorted by start."""
        topic = self.topics.room(room, "schedule")
        rev, ts = self._stamp(topic)
        ordered = sorted(sessions, key=lambda s: (s.starts_at, s.ends_at, s.id))
        payload = RoomSchedule(rev=rev, ts=ts, room=room, name=name, day=day, tz=tz, sessions=ordered)
        return self._put(topic, validated(payload))

    async def publish_room_now(self, room: str, session: Session | None) -> RoomNow:
        topic = self.topics.room(room, "now")
        rev, ts = self._stamp(topic)
        return self._put(topic, validated(RoomNow(rev=rev, ts=ts, room=room, session=session)))

    async def publish_room_next(self, room: str, session: Session | None) -> RoomNext:
        topic = self.topics.room(room, "next")
        rev, ts = self._stamp(topic)
        return self._put(topic, validated(RoomNext(rev=rev, ts=ts, room=room, session=session)))

    async def publish_room_capacity(
        self, room: str, count: int, capacity: int, *, session_id: str | None = None
    ) -> RoomCapacity:
        """How full the room is; ``session_id``: the session on in it (its occupancy), if any."""
        topic = self.topics.room(room, "capacity")
        rev, ts = self._stamp(topic)
        state = capacity_state(count, capacity)
        payload = RoomCapacity(
            rev=rev, ts=ts, room=room, count=count, capacity=capacity, state=state, session_id=session_id
        )
        return self._put(topic, validated(payload))

    async def publish_grassroots_notice(self, notice: GrassrootsNotice) -> GrassrootsNotice:
        """A step of a grassroots session on ``notices/grassroots``: QoS 1, never retained.

        ``rev`` and ``ts`` are stamped here.  While the broker is away the
        newest :data:`NOTICES_KEPT` notices wait and go out, in order, on
        the next connect (news a few minutes late is still news; the room's
        retained schedule shows the session itself either way).
        """
        topic = self.topics.notice("grassroots")
        rev, ts = self._stamp(topic)
        payload = validated(msgspec.structs.replace(notice, rev=rev, ts=ts))
        self._notices.append((topic, encode(payload)))
        self._send_notices()
        return payload

    async def set_alert(
        self,
        alert_id: str,
        text: str,
        *,
        level: AlertLevel = "info",
        priority: int = 50,
        rooms: Sequence[str] = (),
        expires_at: int | None = None,
    ) -> Alert:
        """Show ``text`` on the displays of ``rooms`` (all when empty) until cleared or ``expires_at``."""
        topic = self.topics.alert(alert_id)
        rev, ts = self._stamp(topic)
        alert = Alert(
            rev=rev,
            ts=ts,
            id=alert_id,
            text=text,
            level=level,
            priority=priority,
            rooms=list(rooms),
            expires_at=expires_at,
        )
        return self._put(topic, validated(alert))

    async def clear_alert(self, alert_id: str) -> None:
        """Remove the alert: an empty retained payload deletes the broker's retained copy."""
        self._queue(self._outbox.put(self.topics.alert(alert_id), b""))

    async def send_command(
        self,
        display: str,
        command: CommandName,
        args: Mapping[str, CommandArg] | None = None,
        *,
        ttl_ms: int = 30_000,
    ) -> DisplayCommand | None:
        """Send a one-shot command, never retained; None (not sent) while the broker is away.

        A command is not kept for later: "identify" an hour late is wrong.  The
        caller tells staff it did not go out.
        """
        topic = self.topics.command(display)
        rev, ts = self._stamp(topic)
        payload = DisplayCommand(
            rev=rev, ts=ts, cid=uuid.uuid4().hex, command=command, args=dict(args or {}), ttl_ms=ttl_ms
        )
        payload = validated(payload)
        if not self._connected or self._client is None:
            return None
        info = self._client.publish(topic, encode(payload), qos=QOS, retain=False)
        return payload if info.rc == mqtt.MQTT_ERR_SUCCESS else None

    def unconfirmed(self) -> int:
        """How many topics hold a newer state than the broker confirmed; 0: displays can have it all."""
        return self._outbox.waiting()

    def displays(self) -> dict[str, DisplaySeen]:
        """Every display heard from, by id: last heartbeat, online within the staleness window, clock skew."""
        return self._displays.snapshot(now_ms())

    # --- internals (owner's loop) ------------------------------------------------------------

    def _stamp(self, topic: str) -> tuple[int, int]:
        """``rev`` rises per topic and is never below ``ts``, so it keeps rising across restarts."""
        ts = now_ms()
        rev = max(self._revs.get(topic, 0) + 1, ts)
        self._revs[topic] = rev
        return rev, ts

    def _put(self, topic: str, payload: P) -> P:
        self._queue(self._outbox.put(topic, encode(payload)))
        return payload

    def _queue(self, pending: Pending) -> None:
        if self._connected:
            self._send(pending)

    def _send(self, pending: Pending) -> None:
        assert self._client is not None
        info = self._client.publish(pending.topic, pending.payload, qos=QOS, retain=True)
        self._outbox.sent(info.mid, pending)

    def _send_notices(self) -> None:
        while self._notices and self._connected and self._client is not None:
            topic, body = self._notices[0]
            info = self._client.publish(topic, body, qos=QOS, retain=False)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return  # the connection just went: the rest waits for the next one
            self._notices.popleft()

    def _set_state(self, state: State, detail: str) -> None:
        if (state, detail) != (self._state, self._detail):
            self._state, self._detail, self._since = state, detail, now_ms()

    def _connected_now(self) -> None:
        assert self._client is not None
        self._connected = True
        self._set_state("connected", f"connected to {self.host}:{self.port}")
        self._client.subscribe(self.topics.heartbeats(), qos=0)
        # "online" first: it opens a new session, in which displays start comparing revs afresh
        self._client.publish(self.topics.status(), ONLINE, qos=QOS, retain=True)
        for pending in self._outbox.on_connect():
            self._send(pending)
        self._send_notices()

    def _lost(self, why: str) -> None:
        was_connected, self._connected = self._connected, False
        if self._state == "error" and not was_connected:
            return  # keep showing why the broker refused us; paho keeps retrying
        self._set_state("disconnected", why)

    def _refused(self, reason: str) -> None:
        self._connected = False
        self._set_state("error", f"broker {self.host}:{self.port} refused the connection: {reason}")

    def _acked(self, mid: int) -> None:
        newest = self._outbox.acked(mid)
        if newest is not None and self._connected:
            self._send(newest)  # the broker took an older copy last (a re-send by paho): correct it

    def _heartbeat(self, topic: str, payload: bytes, retained: bool, at: int) -> None:
        display = self.topics.display_of(topic)
        if display is not None:
            self._displays.record(display, payload, retained=retained, received_at=at)

    # --- paho callbacks (network thread): forward, nothing else ------------------------------

    def _post(self, client: mqtt.Client, handler: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between
            loop.call_soon_threadsafe(self._run, client, handler, *args)

    def _run(self, client: mqtt.Client, handler: Callable[..., None], *args: Any) -> None:
        if client is not self._client:
            return  # from a client this publisher already stopped
        try:
            handler(*args)
        except Exception:
            log.exception("signage: handling %s failed", getattr(handler, "__name__", handler))

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self._post(client, self._refused, str(reason))
        else:
            self._post(client, self._connected_now)

    def _on_connect_fail(self, client: mqtt.Client, _u: Any) -> None:
        self._post(client, self._lost, f"cannot reach broker {self.host}:{self.port}; retrying")

    def _on_disconnect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._post(client, self._lost, f"lost broker {self.host}:{self.port} ({reason}); reconnecting")

    def _on_publish(self, client: mqtt.Client, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        self._post(client, self._acked, mid)

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self._post(client, self._heartbeat, message.topic, bytes(message.payload), message.retain, now_ms())
