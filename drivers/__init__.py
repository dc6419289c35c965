"""Device drivers: one folder per device family, each a small self-describing unit.

Shaped like Home Assistant's integrations (research/edge-parts.md A): every
``drivers/<family>/`` has a ``manifest.json`` (what it is, what it needs,
what it discovers, its settings), a driver class with a connect/disconnect
lifecycle, and typed msgspec events or commands.  The common pieces live in
:mod:`drivers.base`.  Drivers never import ``appliance`` or ``hub``: the
appliance wires them into its own decision paths.
"""
