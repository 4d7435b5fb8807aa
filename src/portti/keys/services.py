"""The key store: Portti's own signing and encryption keys, kept by the service, rotated.

Portti signs (client assertions for ``private_key_jwt``, request objects, and tokens of its own
OpenID Provider) and receives encrypted ID tokens and UserInfo answers. Its keys are generated
once, kept in the ``service_keys`` table with the private part sealed (AES-GCM under a key
derived from ``PORTTI_SECRET_KEY``), and published at ``/.well-known/jwks.json``.

Rotation, per algorithm: ``rotate`` adds the next generation, *published* at once but *active*
only after ``keys_prepublish_hours``, so anyone who caches the key set has it before it is used.
The previous key stays published for ``keys_retain_hours`` after its successor became active
(longer than anything signed with it is valid), then leaves the key set. A key older than
``keys_rotate_days`` gets a successor on its own when it is next used.

Every process computes the same answer from the rows: nothing is decided in memory. Creating a
key races safely: ``(alg, generation)`` is unique, the loser rolls back and re-reads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from joserfc.jwk import ECKey, KeyParameters, KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from portti.infra.clock import Clock
from portti.infra.crypto import SecretBox
from portti.keys.models import ServiceKey

__all__ = [
    "ENCRYPTION_ALGORITHMS",
    "SIGNING_ALGORITHMS",
    "KeyPolicy",
    "KeyStore",
    "StoredKey",
]

AsymmetricKey = RSAKey | ECKey

# alg -> (key type, RSA bits or EC curve)
SIGNING_ALGORITHMS: dict[str, tuple[str, int | str]] = {
    "RS256": ("RSA", 2048),
    "PS256": ("RSA", 2048),
    "ES256": ("EC", "P-256"),
}
ENCRYPTION_ALGORITHMS: dict[str, tuple[str, int | str]] = {
    "RSA-OAEP-256": ("RSA", 2048),
    "ECDH-ES": ("EC", "P-256"),
}
# How long a read of the rows is trusted before it is read again (a rotation made by another
# process is seen within this time; the pre-publication period is far longer).
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class KeyPolicy:
    prepublish: timedelta = timedelta(hours=24)
    retain: timedelta = timedelta(hours=24)
    rotate_after: timedelta | None = timedelta(days=90)
    rsa_bits: int = 2048

    def __post_init__(self) -> None:
        if self.rsa_bits < 2048:
            raise ValueError("RSA keys must have at least 2048 bits")


@dataclass(frozen=True)
class StoredKey:
    kid: str
    alg: str
    use: str
    generation: int
    public_jwk: dict[str, Any]
    created_at: datetime
    active_from: datetime


def _use_of(alg: str) -> Literal["sig", "enc"]:
    if alg in SIGNING_ALGORITHMS:
        return "sig"
    if alg in ENCRYPTION_ALGORITHMS:
        return "enc"
    raise ValueError(f"no key kind for algorithm {alg!r}")


class KeyStore:
    """Reads and creates keys in their own short transactions (never the caller's)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        secret: bytes,
        policy: KeyPolicy | None = None,
        *,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        import time

        self._factory = session_factory
        self._clock = clock
        self._box = SecretBox(secret, "service-keys")
        self.policy = policy or KeyPolicy()
        self._monotonic = monotonic or time.monotonic
        self._lock = threading.Lock()
        self._rows: list[StoredKey] | None = None
        self._read_at = 0.0
        self._private: dict[str, AsymmetricKey] = {}

    # -- reading ---------------------------------------------------------------------------

    def _all(self, *, reread: bool = False) -> list[StoredKey]:
        with self._lock:
            if reread or self._rows is None or self._monotonic() - self._read_at > CACHE_SECONDS:
                with self._factory() as db:
                    rows = db.scalars(
                        select(ServiceKey).order_by(ServiceKey.alg, ServiceKey.generation)
                    ).all()
                    self._rows = [
                        StoredKey(
                            r.kid,
                            r.alg,
                            r.use,
                            r.generation,
                            dict(r.public_jwk),
                            r.created_at,
                            r.active_from,
                        )
                        for r in rows
                    ]
                self._read_at = self._monotonic()
            return self._rows

    def refresh(self) -> None:
        """Forget what was read: the next call reads the rows again."""
        with self._lock:
            self._rows = None

    def generations(self, alg: str) -> list[StoredKey]:
        return [k for k in self._all() if k.alg == alg]

    def _published(self, keys: list[StoredKey], now: datetime) -> list[StoredKey]:
        """Of one algorithm's generations: the pending, the active, and those still retained."""
        shown = []
        for i, key in enumerate(keys):
            successor = keys[i + 1] if i + 1 < len(keys) else None
            if successor is None or now < successor.active_from + self.policy.retain:
                shown.append(key)
        return shown

    def published(self) -> list[StoredKey]:
        now = self._clock.now()
        algs = sorted({k.alg for k in self._all()})
        return [k for alg in algs for k in self._published(self.generations(alg), now)]

    def public_jwks(self) -> dict[str, Any]:
        """The JWK set to publish: public parts only, each with ``kid``, ``alg`` and ``use``.
        A key of every algorithm is made on first use, so the set is complete before any of
        them is needed."""
        present = {k.alg for k in self._all()}
        if not present >= {*SIGNING_ALGORITHMS, *ENCRYPTION_ALGORITHMS}:
            self.ensure()
        return {"keys": [dict(k.public_jwk) for k in self.published()]}

    def active(self, alg: str) -> StoredKey:
        """The key of ``alg`` in use now; created on first use, rotated when old enough."""
        now = self._clock.now()
        current = self._active_of(self.generations(alg), now)
        if current is None:
            current = self._create(alg, generation=1, active_from=now)
        elif (
            self.policy.rotate_after is not None
            and now - current.active_from >= self.policy.rotate_after
            and self.generations(alg)[-1].generation == current.generation
        ):
            self.rotate(alg)
        return current

    @staticmethod
    def _active_of(keys: list[StoredKey], now: datetime) -> StoredKey | None:
        live = [k for k in keys if k.active_from <= now]
        return live[-1] if live else None

    def private_key(self, kid: str) -> AsymmetricKey:
        with self._lock:
            cached = self._private.get(kid)
        if cached is not None:
            return cached
        with self._factory() as db:
            row = db.get(ServiceKey, kid)
            if row is None:
                raise KeyError(kid)
            data = json.loads(self._box.open(row.private_sealed))
        key: AsymmetricKey = (
            RSAKey.import_key(data) if data.get("kty") == "RSA" else ECKey.import_key(data)
        )
        # The sealed part belongs to this row: its thumbprint is the row's key id.
        if key.thumbprint() != kid:
            raise ValueError("a stored key does not match its key id")
        with self._lock:
            self._private[kid] = key
        return key

    def active_signing_key(self, alg: str) -> AsymmetricKey:
        """The private key to sign with ``alg`` now (its ``kid`` set; put it in the header)."""
        if alg not in SIGNING_ALGORITHMS:
            raise ValueError(f"{alg!r} is not a signing algorithm of the key store")
        return self.private_key(self.active(alg).kid)

    def active_encryption_jwk(self, alg: str) -> dict[str, Any]:
        """The public key a provider should encrypt to now (as registered or published)."""
        if alg not in ENCRYPTION_ALGORITHMS:
            raise ValueError(f"{alg!r} is not an encryption algorithm of the key store")
        return dict(self.active(alg).public_jwk)

    def decryption_keys(self) -> KeySet:
        """Every published encryption key with its private part: a sender may use a key from
        the moment it is published until it leaves the set."""
        for alg in ENCRYPTION_ALGORITHMS:
            if not self.generations(alg):
                self.active(alg)
        keys = [self.private_key(k.kid) for k in self.published() if k.use == "enc"]
        return KeySet(list(keys))

    def ensure(self, algs: Iterable[str] | None = None) -> None:
        """Create the first key of each algorithm that has none (``portti migrate`` calls it)."""
        for alg in algs or [*SIGNING_ALGORITHMS, *ENCRYPTION_ALGORITHMS]:
            self.active(alg)

    # -- changing --------------------------------------------------------------------------

    def rotate(self, alg: str, *, immediately: bool = False) -> StoredKey:
        """Add the next key of ``alg``: published now, active after the pre-publication period
        (or at once with ``immediately``, for a key thought compromised). A key already waiting
        to become active is returned instead of making another."""
        _use_of(alg)
        now = self._clock.now()
        keys = self.generations(alg)
        if not keys:
            return self._create(alg, generation=1, active_from=now)
        newest = keys[-1]
        if newest.active_from > now and not immediately:
            return newest
        active_from = now if immediately else now + self.policy.prepublish
        return self._create(alg, generation=newest.generation + 1, active_from=active_from)

    def _generate(self, alg: str) -> AsymmetricKey:
        use = _use_of(alg)
        kty, size = (SIGNING_ALGORITHMS | ENCRYPTION_ALGORITHMS)[alg]
        params: KeyParameters = {"alg": alg, "use": use}
        if kty == "RSA":
            bits = max(int(size), self.policy.rsa_bits)
            return RSAKey.generate_key(bits, parameters=params, auto_kid=True)
        return ECKey.generate_key(str(size), parameters=params, auto_kid=True)

    def _create(self, alg: str, *, generation: int, active_from: datetime) -> StoredKey:
        key = self._generate(alg)
        kid = key.kid
        assert kid is not None
        public = key.as_dict(private=False)
        private = key.as_dict(private=True)
        with self._factory() as db:
            db.add(
                ServiceKey(
                    kid=kid,
                    alg=alg,
                    use=_use_of(alg),
                    generation=generation,
                    public_jwk=public,
                    private_sealed=self._box.seal(json.dumps(private)),
                    created_at=self._clock.now(),
                    active_from=active_from,
                )
            )
            try:
                db.commit()
            except IntegrityError:
                # Another process made this generation first: use theirs.
                db.rollback()
        for stored in self._all(reread=True):
            if stored.alg == alg and stored.generation == generation:
                return stored
        raise RuntimeError(f"key {alg} generation {generation} was neither made nor found")


def key_store_for(settings: Any, session_factory: sessionmaker[Session], clock: Clock) -> KeyStore:
    """The key store of an app or a command, with the policy from ``settings``."""
    return KeyStore(
        session_factory,
        clock,
        settings.secret,
        KeyPolicy(
            prepublish=timedelta(hours=settings.keys_prepublish_hours),
            retain=timedelta(hours=settings.keys_retain_hours),
            rotate_after=timedelta(days=settings.keys_rotate_days)
            if settings.keys_rotate_days
            else None,
            rsa_bits=settings.keys_rsa_bits,
        ),
    )
