"""The reference Portti app client: a library (``AppClient``) and the ``portti-app`` command.

It walks the app's steps against a running Portti server exactly as the mobile app does, and is
the executable documentation of the app API (see ``docs/app-api.md``). It deliberately does not
import ``portti``: everything it knows about the server comes over HTTP.
"""

from portti_app.client import AppClient, AppError, signed_message

__all__ = ["AppClient", "AppError", "signed_message"]
