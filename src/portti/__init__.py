"""Portti: onboarding and login for people without a national e-ID."""

__version__ = "0.1.0"
