"""Return addresses (``next``, ``return_to``): a guard against open redirects."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_path(url: str) -> str:
    """``url`` reduced to its path and query, or ``/``: a return address taken from a request
    never leaves this site. A scheme, a host, a protocol-relative ``//host`` and a backslash
    (browsers read ``/\\host`` as ``//host``) all give ``/``."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path + ("?" + parts.query if parts.query else "")
