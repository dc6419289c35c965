"""The touch kiosk, appliance side: pairing, identification, masked search, corrections, check-in."""
