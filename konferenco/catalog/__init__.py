"""The catalog as it travels: the signed bundle and the attendee CSV dialect (one writer, the hub)."""
