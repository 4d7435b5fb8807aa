"""Audit: the append-only log of administrative and security events."""
