"""The hub's JSON API under ``/api/v1`` (scripts, appliances, the console's own calls)."""
