"""The devices attached to the box: scanners, readers, printers, signs, discovery."""
