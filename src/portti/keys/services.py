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

Keys serve one purpose each (SEC-25): ``op`` keys sign the OpenID Provider's ID, access and
logout tokens; ``rp`` keys sign the relying party's client assertions and request objects to
identity brokers, and open what brokers encrypt to Portti. A token Portti checks is checked
against its own purpose's keys only, so a broker assertion cannot pass as an ID token.

Every process computes the same answer from the rows: nothing is decided in memory. Creating a
key races safely: ``(purpose, alg, generation)`` is unique, the loser rolls back and re-reads.
The rows read are trusted for ``CACHE_SECONDS``; a rotation announces itself on the event bus
(``KEYS_CHANNEL``) and every instance that hears it reads the rows again at once (OIDC-9).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from joserfc.jwk import ECKey, KeyParameters, KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from portti.infra.clock import Clock
from portti.infra.events import EventBus
from portti.keys.models import ServiceKey
from portti.keys.sealing import open_private, seal_private

__all__ = [
    "ENCRYPTION_ALGORITHMS",
    "KEYS_CHANNEL",
    "PURPOSES",
    "SIGNING_ALGORITHMS",
    "KeyPolicy",
    "KeyStore",
    "StoredKey",
]

log = structlog.get_logger(__name__)

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
# process is seen within this time even if its announcement on the event bus was lost; the
# pre-publication period is far longer).
CACHE_SECONDS = 30.0
# The event bus channel a rotation is announced on: every instance reads the keys again.
KEYS_CHANNEL = "portti:service-keys"
Purpose = Literal["op", "rp"]
# What each purpose holds: the provider only signs; the relying party signs and decrypts.
PURPOSES: dict[str, tuple[str, ...]] = {
    "op": tuple(SIGNING_ALGORITHMS),
    "rp": (*SIGNING_ALGORITHMS, *ENCRYPTION_ALGORITHMS),
}


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
    purpose: str = "rp"


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
        self._factory = session_factory
        self._clock = clock
        self._secret = secret
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
                        select(ServiceKey).order_by(
                            ServiceKey.purpose, ServiceKey.alg, ServiceKey.generation
                        )
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
                            r.purpose,
                        )
                        for r in rows
                    ]
                self._read_at = self._monotonic()
            return self._rows

    def refresh(self) -> None:
        """Forget what was read: the next call reads the rows again (a rotation was announced
        on the event bus, OIDC-9)."""
        with self._lock:
            self._rows = None

    def generations(self, alg: str, purpose: Purpose = "rp") -> list[StoredKey]:
        return [k for k in self._all() if k.alg == alg and k.purpose == purpose]

    def _published(self, keys: list[StoredKey], now: datetime) -> list[StoredKey]:
        """Of one algorithm's generations: the pending, the active, and those still retained."""
        shown = []
        for i, key in enumerate(keys):
            successor = keys[i + 1] if i + 1 < len(keys) else None
            if successor is None or now < successor.active_from + self.policy.retain:
                shown.append(key)
        return shown

    def published(self, purpose: Purpose | None = None) -> list[StoredKey]:
        """The keys in the public set. Of each purpose and algorithm the active key comes
        first, then one waiting to become active, then the one retiring (OIDC-9): a client
        that takes the first key of an algorithm (some brokers pick the first ``enc`` key)
        takes the one in use."""
        now = self._clock.now()
        shown: list[StoredKey] = []
        purposes: tuple[Purpose, ...] = ("rp", "op") if purpose is None else (purpose,)
        for p in purposes:
            for alg in sorted({k.alg for k in self._all() if k.purpose == p}):
                keys = self._published(self.generations(alg, p), now)
                active = self._active_of(keys, now)

                def rank(k: StoredKey, active: StoredKey | None = active) -> tuple[int, int]:
                    if active is not None and k.kid == active.kid:
                        return (0, 0)
                    return (1 if k.active_from > now else 2, -k.generation)

                shown += sorted(keys, key=rank)
        return shown

    def public_jwks(self) -> dict[str, Any]:
        """The JWK set to publish: public parts only, each with ``kid``, ``alg`` and ``use``.
        A key of every purpose and algorithm is made on first use, so the set is complete
        before any of them is needed."""
        present = {(k.purpose, k.alg) for k in self._all()}
        if not present >= {(p, a) for p, algs in PURPOSES.items() for a in algs}:
            self.ensure()
        return {"keys": [dict(k.public_jwk) for k in self.published()]}

    def active(self, alg: str, purpose: Purpose = "rp") -> StoredKey:
        """The key of ``alg`` in use now; created on first use, rotated when old enough."""
        if alg not in PURPOSES[purpose]:
            raise ValueError(f"no {purpose} key of algorithm {alg!r}")
        now = self._clock.now()
        current = self._active_of(self.generations(alg, purpose), now)
        if current is None:
            current = self._create(alg, purpose, generation=1, active_from=now)
        elif (
            self.policy.rotate_after is not None
            and now - current.active_from >= self.policy.rotate_after
            and self.generations(alg, purpose)[-1].generation == current.generation
        ):
            self.rotate(alg, purpose=purpose)
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
            # The key id is the associated data: a sealed part moved to another row fails here.
            data = json.loads(open_private(self._secret, row.private_sealed, kid=kid))
        key: AsymmetricKey = (
            RSAKey.import_key(data) if data.get("kty") == "RSA" else ECKey.import_key(data)
        )
        # The sealed part belongs to this row: its thumbprint is the row's key id.
        if key.thumbprint() != kid:
            raise ValueError("a stored key does not match its key id")
        with self._lock:
            self._private[kid] = key
        return key

    def active_signing_key(self, alg: str, purpose: Purpose = "rp") -> AsymmetricKey:
        """The private key to sign with ``alg`` now (its ``kid`` set; put it in the header)."""
        if alg not in SIGNING_ALGORITHMS:
            raise ValueError(f"{alg!r} is not a signing algorithm of the key store")
        return self.private_key(self.active(alg, purpose).kid)

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
        keys = [self.private_key(k.kid) for k in self.published("rp") if k.use == "enc"]
        return KeySet(list(keys))

    def ensure(self, algs: Iterable[str] | None = None) -> None:
        """Create the first key of each purpose and algorithm that has none (``portti
        migrate`` calls it)."""
        wanted = set(algs) if algs is not None else None
        for purpose, names in PURPOSES.items():
            for alg in names:
                if wanted is None or alg in wanted:
                    self.active(alg, purpose)  # type: ignore[arg-type]

    # -- changing --------------------------------------------------------------------------

    def rotate(self, alg: str, *, immediately: bool = False, purpose: Purpose = "rp") -> StoredKey:
        """Add the next key of ``alg``: published now, active after the pre-publication period
        (or at once with ``immediately``, for a key thought compromised). A key already waiting
        to become active is returned instead of making another. The caller announces the
        rotation on the event bus (``KEYS_CHANNEL``) so other instances read it at once."""
        _use_of(alg)
        if alg not in PURPOSES[purpose]:
            raise ValueError(f"no {purpose} key of algorithm {alg!r}")
        now = self._clock.now()
        keys = self.generations(alg, purpose)
        if not keys:
            return self._create(alg, purpose, generation=1, active_from=now)
        newest = keys[-1]
        if newest.active_from > now and not immediately:
            return newest
        active_from = now if immediately else now + self.policy.prepublish
        return self._create(alg, purpose, generation=newest.generation + 1, active_from=active_from)

    def _generate(self, alg: str) -> AsymmetricKey:
        use = _use_of(alg)
        kty, size = (SIGNING_ALGORITHMS | ENCRYPTION_ALGORITHMS)[alg]
        params: KeyParameters = {"alg": alg, "use": use}
        if kty == "RSA":
            bits = max(int(size), self.policy.rsa_bits)
            return RSAKey.generate_key(bits, parameters=params, auto_kid=True)
        return ECKey.generate_key(str(size), parameters=params, auto_kid=True)

    def _create(
        self, alg: str, purpose: str, *, generation: int, active_from: datetime
    ) -> StoredKey:
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
                    purpose=purpose,
                    generation=generation,
                    public_jwk=public,
                    private_sealed=seal_private(self._secret, json.dumps(private), kid=kid),
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
            if stored.alg == alg and stored.purpose == purpose and stored.generation == generation:
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


async def follow_rotations(store: KeyStore, events: EventBus, stop: asyncio.Event) -> None:
    """Reads the keys again whenever a rotation is announced (OIDC-9): a key revoked with
    ``portti keys rotate --immediately`` in another process stops signing here at once, not
    after ``CACHE_SECONDS``. Runs for the app's lifetime; a lost announcement is caught by the
    cache's own expiry."""
    async with events.subscribe(KEYS_CHANNEL) as sub:
        while not stop.is_set():
            if await sub.get(timeout=1.0) is not None:
                store.refresh()
                log.info("service_keys_reloaded")


async def announce_rotation(events: EventBus) -> None:
    """Tells every instance listening on the event bus to read the keys again."""
    await events.publish(KEYS_CHANNEL, "rotated")
