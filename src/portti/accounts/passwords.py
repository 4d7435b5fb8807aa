"""The password policy (NIST SP 800-63B-4, section 3.1.1.2) and the password hasher.

The policy asks for length and refuses known-bad passwords; it has no composition rules ("one
digit, one symbol…") and no forced expiry, since both push people to predictable passwords:

- at least 12 characters and at most 128, any characters (spaces and emoji included), counted
  as Unicode code points after NFKC normalisation;
- not one of the 20,000 most common passwords (``data/common-passwords.txt.gz``, from Django);
- not containing the e-mail address's local part;
- not in a breach corpus, when a breached-password service is configured.

Passwords are normalised with NFKC (``normalise_password``) before they are checked or hashed,
so that the same password typed on two keyboards gives the same bytes.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import unicodedata
from importlib import resources

import argon2
import httpx
import structlog

from portti.accounts.errors import PasswordRejected
from portti.config import Settings
from portti.i18n import _l

__all__ = [
    "BreachedPasswordChecker",
    "PasswordPolicy",
    "PasswordRejected",
    "make_password_hasher",
    "normalise_password",
]

MIN_LENGTH = 12
MAX_LENGTH = 128
BREACH_API_TIMEOUT = 3.0
# A local part shorter than this matches too many good passwords ("ab" in "cabbage …").
MIN_EMAIL_PART = 3

CHOOSE_ANOTHER = _l(
    "Choose a longer passphrase of several unrelated words; a password manager can make one."
)


def normalise_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list, lowercased; read once, on first use (about 20,000 entries)."""
    data = resources.files("portti.accounts").joinpath("data/common-passwords.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


class BreachedPasswordChecker:
    """Asks a k-anonymity range API (Have I Been Pwned's ``/range/{prefix}`` protocol) whether a
    password appears in known breaches. Only the first 5 hex digits of its SHA-1 leave the
    server; the service answers with every suffix under that prefix ("SUFFIX:COUNT" lines)."""

    def __init__(self, base_url: str, http: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http

    def is_breached(self, password: str) -> bool:
        digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
        prefix, suffix = digest[:5], digest[5:]
        try:
            response = self.http.get(
                f"{self.base_url}/{prefix}",
                # Padding hides from an observer which prefix, and so which password, was asked.
                headers={"Add-Padding": "true"},
                timeout=BREACH_API_TIMEOUT,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            # Fail OPEN: an unreachable breach service must not stop people from creating an
            # account. The other rules (length, common list, e-mail) still hold, and the
            # password is argon2id-hashed either way. The log line names neither the password
            # nor its hash prefix.
            structlog.get_logger(__name__).warning(
                "breached_password_check_unavailable",
                error_type=type(exc).__name__,
            )
            return False
        for line in response.text.splitlines():
            candidate, _, count = line.strip().partition(":")
            # Padding lines carry a count of 0: they are not breaches.
            if candidate.upper() == suffix and count.strip() not in ("", "0"):
                return True
        return False


class PasswordPolicy:
    def __init__(
        self, *, breached: BreachedPasswordChecker | None = None, min_length: int = MIN_LENGTH
    ) -> None:
        self.breached = breached
        self.min_length = min_length

    def check(self, password: str, *, email: str | None = None) -> None:
        """Raises ``PasswordRejected`` naming the first rule the password breaks."""
        password = normalise_password(password)
        if len(password) < self.min_length:
            raise PasswordRejected(
                code="password_too_short",
                message=_l(
                    "The password is too short: use at least %(num)s characters.",
                    num=self.min_length,
                ),
                next_step=CHOOSE_ANOTHER,
            )
        if len(password) > MAX_LENGTH:
            raise PasswordRejected(
                code="password_too_long",
                message=_l(
                    "The password is too long: use at most %(num)s characters.", num=MAX_LENGTH
                ),
                next_step=_l("Choose a shorter password."),
            )
        lowered = password.lower()
        if lowered in common_passwords():
            raise PasswordRejected(
                code="password_common",
                message=_l("This password is one of the most common passwords and easy to guess."),
                next_step=CHOOSE_ANOTHER,
            )
        if email is not None:
            local = email.rsplit("@", 1)[0].split("+", 1)[0].lower()
            if len(local) >= MIN_EMAIL_PART and local in lowered:
                raise PasswordRejected(
                    code="password_contains_email",
                    message=_l("The password contains your e-mail address."),
                    next_step=_l("Choose a password that does not contain your e-mail address."),
                )
        # Last: the only rule that costs a network round trip.
        if self.breached is not None and self.breached.is_breached(password):
            raise PasswordRejected(
                code="password_breached",
                message=_l("This password has appeared in a data breach, so attackers try it."),
                next_step=_l(
                    "Choose a longer passphrase of several unrelated words; a password manager "
                    "can make one. Do not reuse a password from another service."
                ),
            )


def make_password_hasher(settings: Settings) -> argon2.PasswordHasher:
    """argon2id with the configured cost (tests lower it; production keeps OWASP's or more)."""
    return argon2.PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        hash_len=32,
        salt_len=16,
        type=argon2.Type.ID,
    )
