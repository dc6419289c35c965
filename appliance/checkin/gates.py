"""What a door scanner page needs before and while it scans: the gates and lists, and one gate's counts.

A volunteer's phone at the door (``/door``) signs in with a door account, then
chooses a gate, a check-in list and a direction.  ``/api/v1/scans`` takes ids,
so the page asks here for the names to choose from (the catalog, read from the
cached catalog the scans themselves use, so it agrees with what a scan decides).
``/api/v1/stats`` counts per gate only admitted and refused; the door shows its
own gate's refusals *by reason*, so a volunteer sees "3 wrong list" and knows the
signposting is wrong, which is what :func:`gate_counts` adds.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from appliance.checkin.service import CheckinService
from appliance.config import EventScope
from appliance.read_pool import ReadPool
from appliance.staff.guard import roles
from appliance.staff.service import StaffRole
from konferenco.errors import Invalid
from konferenco.types import now_ms

#: Who runs a door: door volunteers and the desk (organizers may call every route).
DOOR_STAFF = (StaffRole.DOOR, StaffRole.DESK, StaffRole.ORGANIZER)

IdParam = Annotated[str, QueryParameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class GateOption(msgspec.Struct, kw_only=True):
    """A gate (with the list it usually checks) or a check-in list (``default_list`` empty)."""

    id: str
    name: str
    default_list: str = ""


class TicketTypeOption(msgspec.Struct, kw_only=True):
    id: str
    name: str


class GateChoices(msgspec.Struct, kw_only=True):
    """The choices of a door: its event, the gates (each with its usual list) and the lists.

    ``ticket_types`` are what a desk registers a walk-in with (the same catalog, one read).
    """

    event: str
    event_name: str
    timezone: str
    gates: list[GateOption]
    lists: list[GateOption]
    ticket_types: list[TicketTypeOption] = msgspec.field(default_factory=list)


class GateCounts(msgspec.Struct, kw_only=True):
    """One gate's figures as its volunteer sees them; ``inside`` is the chosen list's, now."""

    event: str
    gate: str
    list: str
    admitted: int
    exits: int
    inside: int
    refused: int
    refusals: dict[str, int]  # by result (``wrong_list``, ``already_admitted``...), most frequent first
    at: int


@get(
    "/api/v1/door/setup",
    summary="The gates and check-in lists a door scanner chooses from",
    description=(
        "The event (id, name, time zone), its gates with their default list, its check-in "
        "lists and its ticket types (for a walk-in at the desk), each sorted by name. "
        "For door, desk and organizer accounts."
    ),
    tags=["check-in"],
    opt=roles(*DOOR_STAFF),
)
async def door_setup(
    events: NamedDependency[EventScope],
    checkin: NamedDependency[CheckinService],
    reads: NamedDependency[ReadPool],
    event: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> GateChoices:
    event_id = events.resolve(event)
    catalog = checkin.catalog_cache.event(event_id)
    async with reads.connection() as conn:
        rows = list(await conn.execute_fetchall("SELECT name FROM catalog_event WHERE id = ?", (event_id,)))
    name = str(rows[0][0]) if rows else event_id
    gates = sorted(
        (
            GateOption(id=gid, name=gname, default_list=default or "")
            for gid, (gname, default) in catalog.gates.items()
        ),
        key=lambda g: (g.name.casefold(), g.id),
    )
    lists = sorted(
        (GateOption(id=lid, name=rule.name or lid) for lid, rule in catalog.lists.items()),
        key=lambda item: (item.name.casefold(), item.id),
    )
    return GateChoices(
        event=event_id,
        event_name=name,
        timezone=catalog.timezone.key,
        gates=gates,
        lists=lists,
        ticket_types=sorted(
            (TicketTypeOption(id=tid, name=tname or tid) for tid, tname in catalog.ticket_types.items()),
            key=lambda t: (t.name.casefold(), t.id),
        ),
    )


@get(
    "/api/v1/door/counts",
    summary="One gate's figures: admitted, exits, inside now (for a list), refusals by reason",
    description=(
        "`admitted` counts entries admitted at the gate and not annulled (people, not scans); "
        "`inside` counts the people inside the given list now, wherever they came in; `refusals` "
        "counts the scans refused at the gate by result (an object), most frequent first."
    ),
    tags=["check-in"],
    opt=roles(*DOOR_STAFF),
)
async def door_counts(
    events: NamedDependency[EventScope],
    checkin: NamedDependency[CheckinService],
    reads: NamedDependency[ReadPool],
    gate: IdParam,
    list_id: Annotated[str | None, QueryParameter(name="list", max_length=64)] = None,
    event: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> GateCounts:
    event_id = events.resolve(event)
    catalog = checkin.catalog_cache.event(event_id)
    if gate not in catalog.gates:
        raise Invalid(f"the gate '{gate}' is not configured in this event", code="unknown_gate", field="gate")
    chosen = list_id or catalog.gates[gate][1] or ""
    if chosen and chosen not in catalog.lists:
        raise Invalid(f"the list '{chosen}' is not in this event", code="unknown_list", field="list")
    async with reads.connection() as conn:
        admitted, exits = next(
            iter(
                await conn.execute_fetchall(
                    "SELECT count(DISTINCT CASE WHEN c.direction = 'entry' THEN c.attendee_id END),"
                    " count(DISTINCT CASE WHEN c.direction = 'exit' THEN c.id END) FROM checkin c"
                    " WHERE c.event_id = ? AND c.gate = ? AND c.result = 'admitted'"
                    " AND NOT EXISTS (SELECT 1 FROM checkin_annulment a WHERE a.scan_id = c.id)",
                    (event_id, gate),
                )
            )
        )
        inside = next(
            iter(
                await conn.execute_fetchall(
                    "SELECT count(*) FROM checkin_presence WHERE event_id = ? AND list_id = ? AND inside = 1",
                    (event_id, chosen),
                )
            )
        )[0]
        refusals = {
            str(result): int(count)
            for result, count in await conn.execute_fetchall(
                "SELECT result, count(*) FROM checkin"
                " WHERE event_id = ? AND gate = ? AND result != 'admitted'"
                " GROUP BY result ORDER BY 2 DESC, 1",
                (event_id, gate),
            )
        }
    return GateCounts(
        event=event_id,
        gate=gate,
        list=chosen,
        admitted=int(admitted or 0),
        exits=int(exits or 0),
        inside=int(inside or 0),
        refused=sum(refusals.values()),
        refusals=refusals,
        at=now_ms(),
    )


ROUTES = [door_setup, door_counts]
