"""The schedule and grassroots sessions on the hub: service, projection, queries, exports, import.

Organizers edit through :mod:`hub.schedule.service` (the API in
``hub.api.schedule`` and ``hub.api.proposals``, the console and the CLI call
it); device logs and the control document arrive by sync and are projected
by :mod:`hub.schedule.projection`, which also keeps the child events.
"""
