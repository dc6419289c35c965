"""The appliance's JSON API under ``/api/v1`` (DESIGN.md §3): staff-authenticated, role-checked."""
