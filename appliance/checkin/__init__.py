"""Check-in at the door: lists and rules, the pure decision, the scan service, its projection."""
