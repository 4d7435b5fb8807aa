"""The ASGI entry point for uvicorn: the app built from environment settings."""

from portti.app import create_app

app = create_app()
