"""The event catalog on the appliance: plain tables, one writer (the hub), never a CRDT.

DESIGN.md §2: the roster has a single writer, travels as a signed, versioned
bundle, and lives in SQLite tables that the check-in decision reads.  What
is written at the venue (walk-ins, amendments) arrives through the device
and control documents and is folded into the same tables by the projection.
"""
