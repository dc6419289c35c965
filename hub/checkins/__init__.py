"""What the venues did: check-ins, prints and walk-ins projected from the device logs."""
