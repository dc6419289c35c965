"""``konferenco appliance status``: what is stored and what peers still lack."""

from __future__ import annotations

import click

from appliance.config import DataDir
from appliance.storage import open_replica
from konferenco.types import now_ms


async def print_status(data: DataDir) -> None:
    config = data.load()
    replica = open_replica(data)
    await replica.start()
    try:
        click.echo(f"appliance {config.device_id}, events: {', '.join(config.events)}")
        for name in replica.loaded():
            click.echo(f"  {name}")
        now = now_ms()
        for peer in replica.acks.peers():
            pending = replica.acks.pending_all(peer)
            if not pending:
                click.echo(f"peer {peer}: has everything")
            for doc, p in pending.items():
                click.echo(
                    f"peer {peer}: {p.count} updates of {doc} not acknowledged, "
                    f"oldest {p.age_seconds(now):.0f} s"
                )
        quarantined = await replica.store.quarantined()
        if quarantined:
            click.echo(f"{len(quarantined)} invalid values quarantined (see sync_quarantine)")
    finally:
        await replica.close()
