"""The hub's PostgreSQL: connection URLs, migrations, tenant-scoped transactions."""
