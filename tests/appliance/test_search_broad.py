"""A search that matches a large part of the roster answers at once, unranked, and says how many match.

At 180,000 attendees, ranking every match of "ord" (every order code starts so) took 140 ms
or more; above ``RANK_LIMIT`` matches the desk gets the first ones by name and the total, so
it can say "type more".  Checked here on a small demo roster with a lowered limit.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from appliance.desk.service import find_attendees
from tests.helpers import konferenco


async def test_a_broad_query_is_answered_unranked_by_name_with_the_number_of_matches(tmp_path: Path) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "60", "--seed", "7")
    async with aiosqlite.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True) as conn:
        ranked = await find_attendees(conn, "demo", "ord", limit=10)
        broad = await find_attendees(conn, "demo", "ord", limit=10, rank_limit=5)
        narrow = await find_attendees(conn, "demo", "lefèvre", limit=10, rank_limit=5)
    assert ranked.ranked and ranked.matches == 60 and len(ranked.hits) == 10
    assert not broad.ranked
    assert broad.matches == 60  # every order code matches "ord"
    assert len(broad.hits) == 10
    names = [hit.name for hit in broad.hits]
    assert names == sorted(names)
    assert all(hit.order_ref.lower().startswith("ord") for hit in broad.hits)
    assert narrow.ranked and narrow.matches == 3  # under the limit: ranked as before
    assert narrow.hits[0].name.endswith("Lefèvre")
