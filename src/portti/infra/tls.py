"""Which certificate authorities Portti's outgoing HTTPS trusts (identity providers, brokers,
back-channel logout, the breached-password API).

``PORTTI_CA_BUNDLE`` decides (OIDC-10):

* unset — certifi's bundle (Mozilla's public CAs), as httpx does by default;
* ``system`` — the operating system's store (OpenSSL's default paths: on Debian
  ``/etc/ssl/certs``, kept by ``update-ca-certificates``), where an organisation installs its
  internal CA;
* a path to a PEM file (or a directory of hashed certificates) — certifi's bundle *and* these
  CAs: a broker behind an internal CA works without trusting the whole OS store.

The context verifies host names and certificates as the default does; nothing here turns
checking off.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path

import certifi
import httpx

SYSTEM = "system"


class CaBundleError(ValueError):
    """The configured CA bundle cannot be read."""


@functools.lru_cache(maxsize=8)
def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """An SSL context for clients that trusts what ``ca_bundle`` names (see the module). One
    per bundle for the process: loading Mozilla's CAs costs tens of milliseconds, and the
    clients only read the context. A bundle changed on disk counts from the next start."""
    if ca_bundle == SYSTEM:
        context = ssl.create_default_context()
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        return context
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle:
        path = Path(ca_bundle)
        try:
            if path.is_dir():
                context.load_verify_locations(capath=str(path))
            else:
                context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise CaBundleError(f"PORTTI_CA_BUNDLE cannot be read: {path}") from exc
    return context


def transport_failure(exc: BaseException) -> str:
    """Why a request to a provider got no answer: ``tls_failed`` (a certificate that is not
    trusted, a handshake that failed: see PORTTI_CA_BUNDLE), ``provider_timeout`` or
    ``provider_unreachable``."""
    seen: BaseException | None = exc
    for _ in range(10):  # the chain of causes, bounded
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return "tls_failed"
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, httpx.TimeoutException):
        return "provider_timeout"
    return "provider_unreachable"
