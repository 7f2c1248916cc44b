"""Server-rendered pages per role (Jinja2 + HTMX), signed in by cookie sessions."""
