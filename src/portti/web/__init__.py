"""The web layer: dependencies, sessions and CSRF, error pages, templates and static files."""
