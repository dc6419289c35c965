"""The organizer console: server-rendered pages (Jinja) made live with htmx; no SPA build."""
