"""The Portti app as an installable progressive web app, served at ``/app`` (APP-1 … APP-10)."""
