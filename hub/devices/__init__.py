"""Appliances and other devices: enrolment, credentials, revocation (DESIGN.md §3)."""
