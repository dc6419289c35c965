"""The hub as a sync peer: the update log in PostgreSQL, its projections, and fan-out between workers.

The hub runs the same :class:`sync.replica.Replica` as an appliance; only
the store differs.  With several hub workers, PostgreSQL is both the log
(:mod:`hub.peer.store`) and the channel that tells every worker what the
others stored (:mod:`hub.peer.fanout`), so any worker can serve any document.
"""
