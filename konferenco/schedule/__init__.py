"""The event's schedule: rooms, sessions, the conflict rules, the slot finder and grassroots decisions.

Pure and shared: the appliance and the hub edit a schedule through the same
rules, importers and exporters (``konferenco.schedule.formats``).
"""
