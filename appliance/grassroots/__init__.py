"""Grassroots sessions on the appliance: attendees propose, organizers decide, hosts edit.

``projection`` keeps every ``Proposal`` and ``HostEdit`` of every device log
in SQLite; ``proof`` identifies the proposer by their badge as the door
would; ``service`` records proposals and decisions; ``controller`` is the
HTTP skin over it.
"""
