"""The staff terminal UI (Textual): sections as modes over the appliance's HTTP API."""
