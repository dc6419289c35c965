"""Product tiers and their limits, enforced where events and attendees are created."""

from __future__ import annotations

from dataclasses import dataclass

from konferenco.errors import KonferencoError


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    max_events: int | None  # None: unlimited
    max_attendees_per_event: int


TIERS: dict[str, Tier] = {
    "free": Tier("free", 3, 100),
    "professional": Tier("professional", 25, 1_000),
    "enterprise": Tier("enterprise", None, 50_000),
    "conference": Tier("conference", None, 200_000),
}


class TierLimit(KonferencoError):
    code = "tier_limit"


def check_events(tier: str, existing: int) -> None:
    limit = TIERS[tier].max_events
    if limit is not None and existing >= limit:
        raise TierLimit(
            f"the {tier} plan allows {limit} events and this organization has {existing}; "
            "upgrade the plan or archive an event"
        )


def check_attendees(tier: str, total: int) -> None:
    limit = TIERS[tier].max_attendees_per_event
    if total > limit:
        raise TierLimit(
            f"the {tier} plan allows {limit:,} attendees per event; this import would make {total:,}. "
            "Nothing was imported."
        )
