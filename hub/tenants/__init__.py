"""Organizations, organizer accounts, their roles, sessions and API tokens, and product tiers."""
