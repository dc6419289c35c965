"""The help desk: search, walk-ins, corrections, NFC tags, revocations."""
