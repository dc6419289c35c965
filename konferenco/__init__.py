"""What the hub, the appliance and the tools share: formats, rules, types, errors, the root CLI.

This package is the bottom of the import graph (docs/decisions.md): it
imports nothing from ``appliance``, ``hub``, ``sync``, ``drivers`` or
``kiosk_ui``, so both sides can rely on it without relying on each other.
"""
