"""The touch kiosk's rules: pairing, identifying an attendee, the masked name search, corrections, check-in.

kiosk_ui holds no rule of its own: every decision is made here, behind the
same staff guard as the rest of the API (role ``kiosk``).  The steps:

1. **Identify** by badge (QR or NFC) through the door's own identification
   and decision for the badge itself (:func:`appliance.grassroots.proof.prove`,
   shared with proposals), so a refusal carries the door's result, sentence
   and validity window; nothing is recorded.  Or **look up** by name: results show initials and company
   only (:mod:`appliance.kiosk.masking`), and choosing one asks for a second
   factor (the order code's last four characters or the e-mail's domain).
   Three wrong factors for one person or at one kiosk pause the kiosk's
   lookups for 60 s ("ask at the desk").  Either way the kiosk gets a
   *grant* (:mod:`appliance.kiosk.grants`) that every later step needs.
2. **Correct** the name or company within limits (:mod:`appliance.kiosk.limits`),
   recorded exactly as the desk's correction (an amendment in the control
   document, needing the organizer capability).
3. **Check in**: a printer must be able to print *before* anything is
   recorded; then the door records the scan (gate ``kiosk``) and the print
   queue the badge.

Durability (kill -9 at any point): a pairing code is one SQLite statement;
the scan is recorded by the door's durable path before the answer; the job
by :meth:`PrintQueue.enqueue` before the answer; the nonce → (scan, job)
mapping by one writer transaction after both.  A crash between those
writes leaves a scan and maybe a job without the mapping: the retry with
the same nonce gets the same scan (the door replays its nonce) and finds
the attendee's job instead of making one, so a retry never prints a
second badge.  Lock-outs (wrong pairing codes, wrong factors) live in
memory; a restart clears them, which costs a guesser one more minute's tries.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import sqlite3
import time
from collections import defaultdict, deque
from typing import Any

from appliance.checkin.door import Door
from appliance.checkin.service import CheckinService
from appliance.checkin.structs import ScanRequest
from appliance.config import ApplianceConfig, DataDir, EventScope
from appliance.desk.service import Amend, Desk, search
from appliance.devices.manager import DeviceManager
from appliance.grassroots.proof import BadgeProof, badge_refused, prove
from appliance.kiosk.grants import Grant, KioskSeals
from appliance.kiosk.limits import MAX_LENGTH, name_refusal
from appliance.kiosk.masking import masked_name
from appliance.kiosk.pairing import TOKEN_LIFE_S, PairingCodes, WrongCodes
from appliance.kiosk.structs import (
    CheckinAnswer,
    EventView,
    Identified,
    KioskAttendee,
    KioskSettingsView,
    KioskStatus,
    LookupAnswer,
    LookupHit,
    NextSession,
    Paired,
    PairingCode,
    PrinterView,
)
from appliance.printing.badges import BadgeRenderer
from appliance.printing.queue import PrintError, PrintJob, PrintQueue
from appliance.read_pool import ReadPool
from appliance.schedule.service import ScheduleService
from appliance.staff.service import StaffRole, StaffTokens
from konferenco.errors import KonferencoError
from konferenco.schedule.grassroots import proposal_refusal
from konferenco.schedule.model import EventFrame
from konferenco.types import new_id, now_ms
from sync.permissions import Capability
from sync.sqlite_writer import SQLiteWriter
from sync.tokens import load_secret

log = logging.getLogger(__name__)

#: Results of a kiosk scan after which the badge prints (inside already: the badge is still theirs).
_IN = frozenset({"admitted", "already_admitted"})
#: Jobs that mean "this attendee's badge is printed or on its way": no second one from a kiosk.
_ACTIVE_JOBS = ("queued", "printing", "done", "uncertain")
LOOKUP_LIMIT = 8
#: Wrong second factors per person or per kiosk before the pause, and the pause.
MAX_WRONG_FACTORS = 3
PAUSE_S = 60
WRONG_WINDOW_S = 10 * 60
#: Seconds a printer's state read for the status screen stays fresh (the check-in always reads anew).
STATUS_FRESH_S = 3.0
PROBE_TIMEOUT_S = 5.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS kiosk_checkin (
    nonce TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    attendee_id TEXT NOT NULL,
    scan_id TEXT NOT NULL,
    job_id TEXT,
    at INTEGER NOT NULL
)
"""

_ROSTER = """
SELECT a.name, a.company, coalesce(t.name, a.ticket_type_id), a.badge_code, a.nfc_uid, a.email, a.order_ref
FROM attendee a LEFT JOIN catalog_ticket_type t ON t.event_id = a.event_id AND t.id = a.ticket_type_id
WHERE a.event_id = ? AND a.id = ?
"""


class WrongFactors:
    """Wrong second factors per person and per kiosk, and the pause after the third (in memory)."""

    def __init__(self, limit: int = MAX_WRONG_FACTORS, pause_s: float = PAUSE_S) -> None:
        self.limit = limit
        self.pause_s = pause_s
        self._wrong: dict[str, deque[float]] = defaultdict(deque)
        self._paused: dict[str, float] = {}

    def _recent(self, key: str) -> deque[float]:
        times = self._wrong[key]
        while times and times[0] <= time.monotonic() - WRONG_WINDOW_S:
            times.popleft()
        return times

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        until = max((self._paused.get(k, 0.0) for k in keys), default=0.0)
        if until > now:
            raise self._pause(until - now)

    def failed(self, *keys: str) -> KonferencoError:
        """Count a wrong factor; the refusal to raise (wrong_factor, or the pause on the last try)."""
        now = time.monotonic()
        for key in keys:
            self._recent(key).append(now)
        worst = max(len(self._recent(k)) for k in keys)
        if worst >= self.limit:
            for key in keys:
                self._paused[key] = now + self.pause_s
                self._wrong.pop(key, None)
            return self._pause(self.pause_s)
        left = self.limit - worst
        return KonferencoError(
            f"that does not match; {left} {'try' if left == 1 else 'tries'} left",
            code="wrong_factor",
            attempts_left=left,
        )

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._wrong.pop(key, None)

    @staticmethod
    def _pause(seconds: float) -> KonferencoError:
        wait = max(1, int(seconds + 0.999))
        return KonferencoError(
            f"too many wrong answers; please ask at the desk (the kiosk waits {wait} s)",
            code="ask_at_desk",
            retry_after_s=wait,
            retry_after=wait,
        )


def factor_matches(factor: str, email: str, order_ref: str) -> bool:
    """The order code's last four characters, or the e-mail's domain; case and spaces ignored."""
    given = factor.strip().casefold()
    order_tail = order_ref.strip().casefold()[-4:] if len(order_ref.strip()) >= 4 else ""
    domain = email.rpartition("@")[2].strip().casefold() if "@" in email else ""
    by_order = bool(order_tail) and hmac.compare_digest(given.encode(), order_tail.encode())
    by_domain = bool(domain) and hmac.compare_digest(given.removeprefix("@").encode(), domain.encode())
    return by_order or by_domain


class KioskService:
    def __init__(
        self,
        *,
        data: DataDir,
        config: ApplianceConfig,
        writer: SQLiteWriter,
        conn: sqlite3.Connection,
        reads: ReadPool,
        tokens: StaffTokens,
        checkin: CheckinService,
        door: Door,
        desk: Desk,
        prints: PrintQueue,
        devices: DeviceManager,
        schedule: ScheduleService,
        renderer: BadgeRenderer,
        events: EventScope,
    ) -> None:
        self.data = data
        self.config = config
        self.events = events
        self.writer = writer
        self.conn = conn
        self.reads = reads
        self.tokens = tokens
        self.checkin = checkin
        self.door = door
        self.desk = desk
        self.prints = prints
        self.devices = devices
        self.schedule = schedule
        self.seals = KioskSeals(load_secret(data.secrets / "staff-token.key"))
        self.codes = PairingCodes(data)
        self.wrong_codes = WrongCodes()
        self.wrong_factors = WrongFactors()
        self._pairing = asyncio.Lock()  # guesses are counted one at a time, or a burst would all be tried
        # Kiosk check-ins one at a time: a double tap's two requests (one nonce) must not both find
        # "nothing recorded yet" and print twice.  A check-in takes milliseconds, a person seconds.
        self._checking_in = asyncio.Lock()
        self._states: dict[str, tuple[float, Any]] = {}
        self.renderer = renderer

    async def start(self) -> None:
        await self.writer.run(lambda conn: conn.execute(SCHEMA))

    # --- pairing ---------------------------------------------------------------------------

    async def pairing_code(self, name: str) -> PairingCode:
        code, expires = await self.writer.run(lambda conn: self.codes.create(conn, name.strip() or "Kiosk"))
        return PairingCode(code=code, name=name.strip() or "Kiosk", expires_at=expires)

    async def pair(self, code: str, address: str) -> Paired:
        async with self._pairing:
            self.wrong_codes.check(address)
            name = await self.writer.run(lambda conn: self.codes.use(conn, code.strip()))
            if name is None:
                self.wrong_codes.failed(address)
                raise KonferencoError("this code is not valid; ask staff for a new one", code="wrong_code")
        staff_id = f"kiosk-{new_id()[:12].lower()}"
        token = self.tokens.issue(staff_id, name, StaffRole.KIOSK, TOKEN_LIFE_S)
        log.info("kiosk %s paired as %s", name, staff_id)
        return Paired(
            token=token,
            name=name,
            role=StaffRole.KIOSK.value,
            expires_at=(int(time.time()) + TOKEN_LIFE_S) * 1000,
        )

    # --- status ----------------------------------------------------------------------------

    async def status(self) -> KioskStatus:
        event = self.events.resolve(None)
        frame = await self.schedule.frame(event)
        printers = [await self._printer_view(c.id, STATUS_FRESH_S) for c in self._printer_configs()]
        settings = self.config.kiosk
        return KioskStatus(
            event=EventView(id=event, name=frame.name or event, timezone=frame.timezone),
            printers=printers,
            can_print=any(p.ready for p in printers),
            settings=KioskSettingsView(
                idle_timeout_s=settings.idle_timeout_s,
                extend_s=settings.extend_s,
                corrections=list(settings.corrections),
                pickup=settings.pickup,
                next_steps=settings.next_steps,
                proposals_open=await self._proposals_open(event, frame),
            ),
        )

    async def _proposals_open(self, event: str, frame: EventFrame) -> bool:
        if Capability.KIOSK not in self.config.capabilities:
            return False
        state = await self.schedule.state(event)
        rules = state.settings.grassroots
        why = proposal_refusal(
            state.settings, frame, now_ms(), duration_min=rules.min_minutes, open_proposals=0
        )
        return why is None

    def _printer_configs(self) -> list[Any]:
        return [c for c in self.config.devices if c.domain == "printer"]

    async def _printer_view(self, printer_id: str, fresh_s: float) -> PrinterView:
        """The printer's state, read from the printer itself unless a reading is ``fresh_s`` old or newer."""
        config = next((c for c in self._printer_configs() if c.id == printer_id), None)
        if config is None:
            return PrinterView(
                id=printer_id, name=printer_id, ready=False, state="error", detail="not configured"
            )
        cached = self._states.get(printer_id)
        if cached is None or time.monotonic() - cached[0] > fresh_s:
            driver = self.prints.printers.get(printer_id)
            probe = getattr(driver, "status", None)
            if probe is not None:
                try:
                    await asyncio.wait_for(probe(), PROBE_TIMEOUT_S)
                except Exception as exc:  # a busy or broken printer: its last known state stands
                    log.debug("printer %s status not read: %s", printer_id, exc)
            state = self.devices.state_of(config)
            self._states[printer_id] = (time.monotonic(), state)
        else:
            state = cached[1]
        return PrinterView(
            id=printer_id,
            name=config.name or state.name or printer_id,
            ready=state.state == "connected",
            state=state.state,
            detail=state.detail,
        )

    async def _ready_printer(self, requested: str | None) -> str:
        """A printer that can print now (read from it, not remembered); ``no_printer`` saying why not."""
        ids = [c.id for c in self._printer_configs() if c.id in self.prints.printers]
        if requested is not None:
            if requested not in ids:
                raise PrintError(
                    "no_printer", f"no printer '{requested}' is ready on this appliance; ask at the desk"
                )
            ids = [requested]
        views = [await self._printer_view(i, 0.0) for i in ids]
        for view in views:
            if view.ready:
                return view.id
        why = "; ".join(f"{v.name}: {v.detail or v.state}" for v in views) or "no printer is configured"
        raise PrintError(
            "no_printer",
            f"no printer can print right now ({why}); please ask at the desk",
            printers=[{"id": v.id, "state": v.state, "detail": v.detail} for v in views],
        )

    # --- identify ------------------------------------------------------------------------

    def _prove(self, event: str, badge: BadgeProof) -> str:
        """The attendee this badge proves, checked as the door checks the badge itself; nothing recorded."""
        return prove(self.checkin, event, badge).id

    async def identify(self, kiosk: str, badge: BadgeProof) -> Identified:
        event = self.events.resolve(None)
        attendee = self._prove(event, badge)
        grant = self.seals.grant(event, attendee, kiosk, code=badge.code, nfc_uid=badge.nfc_uid)
        return self._identified(event, attendee, grant)

    def _roster(self, event: str, attendee: str) -> tuple[Any, ...]:
        row: tuple[Any, ...] | None = self.conn.execute(_ROSTER, (event, attendee)).fetchone()
        if row is None:
            raise KonferencoError(
                "this attendee is not on the roster any more; ask at the desk", code="unknown_attendee"
            )
        return row

    def _identified(self, event: str, attendee: str, grant: str) -> Identified:
        name, company, ticket_type, *_ = self._roster(event, attendee)
        printed = self._active_job_id(event, attendee)
        checked_in = self.conn.execute(
            "SELECT 1 FROM checkin c WHERE c.event_id = ? AND c.attendee_id = ? AND c.result = 'admitted'"
            " AND c.direction = 'entry'"
            " AND NOT EXISTS (SELECT 1 FROM checkin_annulment n WHERE n.scan_id = c.id)"
            " LIMIT 1",
            (event, attendee),
        ).fetchone()
        return Identified(
            grant=grant,
            attendee=KioskAttendee(
                id=attendee, name=name, company=company or "", ticket_type=ticket_type or ""
            ),
            printed_before=printed is not None,
            checked_in=checked_in is not None,
        )

    # --- the masked name search ------------------------------------------------------------

    async def lookup(self, kiosk: str, query: str) -> LookupAnswer:
        event = self.events.resolve(None)
        async with self.reads.connection() as conn:
            hits = await search(conn, event, query, limit=LOOKUP_LIMIT + 1, private=False)
        results = [
            LookupHit(ref=self.seals.ref(event, h.id, kiosk), name=masked_name(h.name), company=h.company)
            for h in hits[:LOOKUP_LIMIT]
        ]
        return LookupAnswer(results=results, more=len(hits) > LOOKUP_LIMIT)

    async def verify(self, kiosk: str, ref: str, factor: str) -> Identified:
        claims = self.seals.open_ref(ref, kiosk)
        keys = (f"ref:{claims.event}:{claims.attendee}", f"kiosk:{kiosk}")
        self.wrong_factors.check(*keys)  # during the pause even the right answer waits
        _, _, _, code, nfc_uid, email, order_ref = self._roster(claims.event, claims.attendee)
        if not factor_matches(factor, email or "", order_ref or ""):
            raise self.wrong_factors.failed(*keys)
        self.wrong_factors.succeeded(*keys)
        if code:
            badge = BadgeProof(code=code)
        elif nfc_uid:
            badge = BadgeProof(nfc_uid=nfc_uid)
        else:
            raise badge_refused(
                "unknown_badge", "There is no badge for this registration yet; please ask at the desk."
            )
        attendee = self._prove(claims.event, badge)
        grant = self.seals.grant(claims.event, attendee, kiosk, code=badge.code, nfc_uid=badge.nfc_uid)
        return self._identified(claims.event, attendee, grant)

    # --- preview and corrections -----------------------------------------------------------

    async def badge_png(self, kiosk: str, grant: str) -> bytes:
        """The badge as the printer will print it: the print queue's own drawing, first printer's paper.

        Drawn in a worker thread, as the queue draws it: fonts and a QR take tens of milliseconds
        that the door's scans must not wait for.
        """
        claims = self.seals.open_grant(grant, kiosk)
        self._roster(claims.event, claims.attendee)  # gone from the roster: the kiosk's own refusal

        def draw() -> bytes:
            out = io.BytesIO()
            self.renderer.image(claims.event, claims.attendee, None).save(out, format="PNG")
            return out.getvalue()

        return await asyncio.to_thread(draw)

    async def correct(self, kiosk: str, grant: str, name: str | None, company: str | None) -> Identified:
        """Apply the attendee's corrections, all checked before any is written."""
        claims = self.seals.open_grant(grant, kiosk)
        current_name, current_company, *_ = self._roster(claims.event, claims.attendee)
        allowed = set(self.config.kiosk.corrections)
        changes: list[Amend] = []
        if name is not None and name.strip() != current_name:
            if "name" not in allowed:
                raise _refused("name", "Names cannot be changed at this kiosk; please ask at the desk.")
            why = name_refusal(current_name, name)
            if why is not None:
                raise _refused("name", why)
            changes.append(Amend(field="name", value=name.strip()))
        if company is not None and company.strip() != (current_company or ""):
            if "company" not in allowed:
                raise _refused(
                    "company", "The company cannot be changed at this kiosk; please ask at the desk."
                )
            if len(company.strip()) > MAX_LENGTH:
                raise _refused("company", f"A company can have at most {MAX_LENGTH} characters.")
            changes.append(Amend(field="company", value=company.strip()))
        for change in changes:  # recorded exactly as the desk's correction, by this kiosk
            await self.desk.amend(self.conn, claims.event, claims.attendee, change, kiosk)
        return self._identified(claims.event, claims.attendee, grant)

    # --- check-in and print ----------------------------------------------------------------

    def _active_job_id(self, event: str, attendee: str) -> str | None:
        """The newest job that means "their badge is printed or on its way" (no second one here)."""
        row = self.conn.execute(
            f"SELECT id FROM print_job WHERE event_id = ? AND attendee_id = ? AND status IN {_ACTIVE_JOBS}"
            " ORDER BY created_at DESC LIMIT 1",
            (event, attendee),
        ).fetchone()
        return None if row is None else str(row[0])

    def _active_job(self, event: str, attendee: str) -> PrintJob | None:
        job_id = self._active_job_id(event, attendee)
        return None if job_id is None else self.prints.job(job_id)

    def _gate(self, event: str) -> str:
        gates = self.checkin.catalog_cache.event(event).gates
        wanted = self.config.kiosk.gate
        if wanted in gates or not gates:
            return wanted
        return sorted(gates)[0]

    async def check_in(self, kiosk: str, grant: str, nonce: str, printer: str | None) -> CheckinAnswer:
        claims = self.seals.open_grant(grant, kiosk)
        scan_nonce = f"kiosk:{nonce}"
        async with self._checking_in:
            stored = self.conn.execute(
                "SELECT attendee_id, job_id FROM kiosk_checkin WHERE nonce = ?", (scan_nonce,)
            ).fetchone()
            if stored is not None and stored[0] != claims.attendee:
                raise KonferencoError(
                    "this nonce was already used for another attendee; every check-in needs a fresh nonce",
                    code="nonce_reused",
                )
            job = self._active_job(claims.event, claims.attendee)
            printer_id = None
            if stored is None and job is None:
                printer_id = await self._ready_printer(printer)  # before anything is recorded
            request = ScanRequest(
                nonce=scan_nonce, gate=self._gate(claims.event), code=claims.code, nfc_uid=claims.nfc_uid
            )
            answer = await self.door.scan(request, kiosk)
            if stored is not None:
                job = self.prints.job(stored[1]) if stored[1] else None
            elif answer.result in _IN:
                job = job or self._active_job(claims.event, claims.attendee)  # a gate that prints by itself
                if job is None and printer_id is not None:
                    job = await self.prints.enqueue(claims.event, claims.attendee, printer_id, "request")
            if stored is None:
                await self._remember(scan_nonce, claims, answer.scan_id, job)
        return CheckinAnswer(
            scan=answer,
            job=job,
            pickup=self.config.kiosk.pickup,
            next=await self._next_sessions(claims.event),
        )

    async def _remember(self, nonce: str, claims: Grant, scan_id: str, job: PrintJob | None) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR IGNORE INTO kiosk_checkin (nonce, event_id, attendee_id, scan_id, job_id, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (nonce, claims.event, claims.attendee, scan_id, job.id if job else None, now_ms()),
            )

        await self.writer.run(insert)

    async def _next_sessions(self, event: str, count: int = 3) -> list[NextSession]:
        state = await self.schedule.state(event)
        now = now_ms()
        upcoming = sorted(
            (s for s in state.sessions.values() if s.starts_at >= now), key=lambda s: s.starts_at
        )
        return [
            NextSession(
                title=s.title,
                room=state.rooms[s.room_id].name if s.room_id in state.rooms else (s.room_id or ""),
                starts_at=s.starts_at,
            )
            for s in upcoming[:count]
        ]


def _refused(field: str, reason: str) -> KonferencoError:
    return KonferencoError(reason, code="correction_refused", field=field, reason=reason)
