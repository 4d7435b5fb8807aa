"""``AppClient``: the Portti app's protocol, one method per step the person sees.

The device's state is a directory, as an app's private storage would be:

* ``state.json`` — the server, the device id and key algorithm, the activation token while an
  activation is in progress, the app session token while the app is unlocked, and the person;
* ``device_key.pem`` — the device's private key (PKCS #8, mode 0600), made here, never sent;
* ``biometric_key.pem`` — optional: a second private key. On a phone the platform releases it
  only after a fingerprint or Face ID check; here ``biometric=True`` stands for that check
  having succeeded.

The server keeps only the public keys. Every approval (unlocking the app, and later approving a
web login) is a signature over ``signed_message(purpose, nonce, context)`` with a fresh,
single-use server nonce, plus the PIN (checked and counted by the server) or a second signature
with the biometric key. A copy of this directory therefore gives no offline PIN oracle: every
guess must go to the server, which counts it against the device.

Errors from the server are RFC 9457 problem documents; they arrive here as ``AppError`` with the
stable ``code`` to switch on, a ``detail`` and often a ``next_step`` to show the person.

This package must not import ``portti``: the mobile team reads it to learn the protocol.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "API_PREFIX",
    "DEFAULT_SERVER",
    "AppClient",
    "AppError",
    "AppState",
    "KeyAlg",
    "signed_message",
]

DEFAULT_SERVER = "http://127.0.0.1:8000"
API_PREFIX = "/app-api/v1"
STATE_FILE = "state.json"
DEVICE_KEY_FILE = "device_key.pem"
BIOMETRIC_KEY_FILE = "biometric_key.pem"
MESSAGE_PREFIX = b"portti-v1|"
USER_AGENT = "portti-app/0.1 (reference client)"

KeyAlg = Literal["Ed25519", "ES256"]
KEY_ALGS: tuple[str, ...] = ("Ed25519", "ES256")
PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
Auth = Literal["activation", "session"] | None

# Answers after which the local activation is worth nothing: the app starts over.
DEVICE_GONE = frozenset({"device_unknown", "pin_locked"})
ACTIVATION_GONE = frozenset({"activation_unknown", "invitation_expired"})


# -- the signature format (must match the server byte for byte) --------------------------------


def signed_message(purpose: str, nonce: str, context: str | None) -> bytes:
    """What every device signature covers: ``portti-v1|<purpose>|<nonce>|<context or "">``
    as UTF-8. The purpose and context stop a signature made for one thing (unlocking this app)
    from approving another (a web login)."""
    return MESSAGE_PREFIX + b"|".join((purpose.encode(), nonce.encode(), (context or "").encode()))


def b64url(data: bytes) -> str:
    """base64url without padding: the encoding of every key and signature on the wire."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_private_key(alg: str) -> PrivateKey:
    if alg == "Ed25519":
        return Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unknown key algorithm {alg!r}: use Ed25519 or ES256")


def public_key_b64(key: PrivateKey) -> str:
    """The public half as the server wants it: SubjectPublicKeyInfo, DER, base64url."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64url(der)


def sign(key: PrivateKey, message: bytes) -> str:
    """Ed25519: the raw 64-byte signature. ES256: ECDSA P-256 / SHA-256, DER-encoded (what
    Android KeyStore and iOS ``SecKeyCreateSignature`` give). base64url either way."""
    if isinstance(key, Ed25519PrivateKey):
        return b64url(key.sign(message))
    return b64url(key.sign(message, ec.ECDSA(hashes.SHA256())))


def pkce_challenge(verifier: str) -> str:
    """S256 as in PKCE (RFC 7636): base64url(SHA-256(verifier)) without padding."""
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


# -- errors ---------------------------------------------------------------------------------


class AppError(Exception):
    """A refusal: from the server (a problem document) or from the client itself
    (``status`` 0, e.g. ``not_activated``). Switch on ``code``; show ``detail`` and
    ``next_step``."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        next_step: str | None = None,
        retry_after: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title
        self.next_step = next_step
        self.retry_after = retry_after
        self.errors = errors or []
        self.body: dict[str, Any] = dict(body or {})
        super().__init__(detail)

    def __str__(self) -> str:
        text = f"{self.detail} ({self.code})"
        return f"{text} {self.next_step}" if self.next_step else text

    def __repr__(self) -> str:
        return f"AppError(status={self.status}, code={self.code!r}, detail={self.detail!r})"

    @classmethod
    def from_response(cls, response: httpx.Response) -> AppError:
        body: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            parsed = response.json()
            if isinstance(parsed, dict):
                body = parsed
        retry_after: int | None = None
        raw_retry = body.get("retry_after", response.headers.get("retry-after"))
        with contextlib.suppress(TypeError, ValueError):
            retry_after = int(raw_retry) if raw_retry is not None else None
        code = body.get("code")
        detail = body.get("detail")
        if not isinstance(detail, str):
            # FastAPI's own errors have "detail" as a string or a list; anything else: the text.
            detail = detail if detail is not None else response.text[:300]
            detail = str(detail) or response.reason_phrase
        errors = body.get("errors")
        return cls(
            response.status_code,
            code if isinstance(code, str) else f"http_{response.status_code}",
            detail,
            title=body.get("title") if isinstance(body.get("title"), str) else None,
            next_step=body.get("next_step") if isinstance(body.get("next_step"), str) else None,
            retry_after=retry_after,
            errors=errors if isinstance(errors, list) else None,
            body=body,
        )


def local_error(code: str, detail: str, next_step: str | None = None) -> AppError:
    return AppError(0, code, detail, next_step=next_step)


# -- the device's state ---------------------------------------------------------------------


@dataclass
class AppState:
    """What ``state.json`` holds. Tokens are secrets: the file is written with mode 0600."""

    base_url: str
    device_id: str | None = None
    key_alg: str | None = None
    biometrics: bool = False
    activation_token: str | None = None
    # "invitation", "account" or "bank_id", and where it is (the server's next step).
    activation_kind: str | None = None
    step: str | None = None
    # Who invited, shown after the sign-up code.
    invitation: dict[str, Any] | None = None
    app_session_token: str | None = None
    app_session_expires_at: str | None = None
    person: dict[str, Any] | None = None
    # The PKCE-style verifier of a bank ID activation between start and handoff.
    bank_id_verifier: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppState:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        return cls(**known)

    @property
    def activated(self) -> bool:
        return self.device_id is not None

    @property
    def unlocked(self) -> bool:
        return self.app_session_token is not None


def _write_private(path: Path, data: bytes) -> None:
    """Writes a secret file readable by its owner only, atomically (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    os.chmod(path, 0o600)


# -- the client -----------------------------------------------------------------------------


class AppClient:
    """One app installation: its state directory and an HTTP client to its server.

    ``base_url`` may be ``None`` to use the server the state directory was activated against
    (or ``DEFAULT_SERVER`` for a new one). Use as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        base_url: str | None,
        state_dir: Path | str,
        *,
        http: httpx.Client | None = None,
        timeout: float = 15.0,
        platform: str = "portti-app (Python)",
    ) -> None:
        self.state_dir = Path(state_dir)
        self.platform = platform
        stored = self._load_state()
        if base_url is None:
            base_url = stored.base_url if stored else DEFAULT_SERVER
        base_url = base_url.rstrip("/")
        if stored is not None and stored.activated and stored.base_url != base_url:
            raise local_error(
                "state_other_server",
                f"This state directory belongs to the app activated at {stored.base_url}.",
                next_step="Use that server, or another state directory.",
            )
        self.state = stored or AppState(base_url=base_url)
        self.state.base_url = base_url
        self.base_url = base_url
        self._own_http = http is None
        self.http = http or httpx.Client(
            base_url=base_url, timeout=timeout, headers={"user-agent": USER_AGENT}
        )

    # -- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> AppClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    def _load_state(self) -> AppState | None:
        try:
            data = json.loads((self.state_dir / STATE_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise local_error(
                "state_unreadable", f"{self.state_dir / STATE_FILE} cannot be read: {exc}"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("base_url"), str):
            raise local_error("state_unreadable", f"{self.state_dir / STATE_FILE} is not valid.")
        return AppState.from_json(data)

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = json.dumps(dataclasses.asdict(self.state), indent=2, sort_keys=True) + "\n"
        _write_private(self.state_file, text.encode("utf-8"))

    def _key_path(self, name: str) -> Path:
        return self.state_dir / name

    def _write_key(self, name: str, key: PrivateKey) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(self._key_path(name), pem)

    def _read_key(self, name: str) -> PrivateKey:
        try:
            pem = self._key_path(name).read_bytes()
        except FileNotFoundError as exc:
            raise local_error(
                "key_missing",
                f"The key file {name} is missing from {self.state_dir}.",
                next_step="Activate the app again.",
            ) from exc
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise local_error("key_missing", f"{name} is not an Ed25519 or P-256 key.")
        return key

    def _remove_keys(self) -> None:
        for name in (DEVICE_KEY_FILE, BIOMETRIC_KEY_FILE):
            with contextlib.suppress(FileNotFoundError):
                self._key_path(name).unlink()

    def request(
        self, method: str, path: str, *, json_body: Any = None, auth: Auth = None
    ) -> dict[str, Any]:
        """One call to the app API (``path`` below ``/app-api/v1``). ``auth`` picks the bearer
        token: the activation token, the app session token, or none. Public so that tests and
        new features can reach routes this class has no method for yet."""
        headers: dict[str, str] = {}
        if auth == "activation":
            headers["authorization"] = f"Bearer {self._activation_token()}"
        elif auth == "session":
            headers["authorization"] = f"Bearer {self._session_token()}"
        try:
            response = self.http.request(method, API_PREFIX + path, json=json_body, headers=headers)
        except httpx.TransportError as exc:
            raise local_error(
                "server_unreachable",
                f"The server {self.base_url} cannot be reached: {exc}.",
                next_step="Check the server address (--server) and that the server is running.",
            ) from exc
        if response.status_code >= 400:
            error = AppError.from_response(response)
            self._after_refusal(error, auth)
            raise error
        if response.status_code == 204 or not response.content:
            return {}
        data = response.json()
        return data if isinstance(data, dict) else {"items": data}

    def _after_refusal(self, error: AppError, auth: Auth) -> None:
        """Local state the server's answer has made stale."""
        if auth == "activation" and error.code in ACTIVATION_GONE:
            self.state.activation_token = None
            self.state.activation_kind = None
            self.state.step = None
            self.save()
        elif error.code == "app_locked":
            self.state.app_session_token = None
            self.state.app_session_expires_at = None
            self.save()
        elif error.code in DEVICE_GONE and self.state.device_id is not None:
            # The server ended this device (logged out elsewhere, revoked, locked by wrong
            # PINs): its keys can never be used again. The app starts over.
            self._forget_device()

    def require_activation(self) -> str:
        """The step the activation in progress is at; ``no_activation`` if there is none.
        Lets an app check before it asks the person for anything."""
        self._activation_token()
        return self.state.step or ""

    def require_device(self) -> str:
        """This installation's device id; ``not_activated`` if there is none."""
        return self._device_id()

    def _activation_token(self) -> str:
        if not self.state.activation_token:
            raise local_error(
                "no_activation",
                "No activation is in progress on this device.",
                next_step="Start with “I have a sign-up code”, “Two-factor authentication "
                "already done” or Finnish bank ID.",
            )
        return self.state.activation_token

    def _session_token(self) -> str:
        if not self.state.app_session_token:
            raise local_error(
                "app_locked",
                "The app is locked.",
                next_step="Unlock it with your PIN or biometrics.",
            )
        return self.state.app_session_token

    def _device_id(self) -> str:
        if not self.state.device_id:
            raise local_error(
                "not_activated",
                "This app is not activated.",
                next_step="Activate it with a sign-up code, your account or Finnish bank ID.",
            )
        return self.state.device_id

    def _forget_device(self) -> None:
        self._remove_keys()
        self.state = AppState(base_url=self.base_url)
        self.save()

    def _begin_activation(self, kind: str, token: str, step: str) -> None:
        if self.state.device_id is not None:
            # A new activation replaces whatever this installation had (as a reinstall would).
            self._forget_device()
        self.state.activation_token = token
        self.state.activation_kind = kind
        self.state.step = step
        self.state.bank_id_verifier = None
        self.save()

    def _advance(self, answer: Mapping[str, Any]) -> dict[str, Any]:
        step = answer.get("step")
        if isinstance(step, str):
            self.state.step = step
            self.save()
        return dict(answer)

    # -- activation with a sign-up code (APP-1) ----------------------------------------------

    def redeem_signup_code(self, code: str) -> dict[str, Any]:
        """“I have a sign-up code”: the 16 digits from the invitation e-mail (spaces are fine).
        Answers with ``inviter_name``, ``company_name``, ``phone_hint`` (the masked number the
        SMS went to), ``expires_at`` and ``resends_left``."""
        answer = self.request("POST", "/activations", json_body={"signup_code": code})
        self._begin_activation("invitation", answer["activation_token"], "confirm_phone")
        info = {k: v for k, v in answer.items() if k != "activation_token"}
        self.state.invitation = info
        self.save()
        return info

    def confirm_phone(self, code: str) -> dict[str, Any]:
        """The 6-digit code from the SMS (or one the user administrator generated)."""
        return self._advance(
            self.request(
                "POST",
                "/activations/current/confirmation-code",
                json_body={"code": code},
                auth="activation",
            )
        )

    def resend_code(self) -> dict[str, Any]:
        """“Resend code?”: a new SMS code replaces the last; answers ``resends_left``."""
        return self.request(
            "POST", "/activations/current/confirmation-code/resend", auth="activation"
        )

    # -- the account (APP-2) -------------------------------------------------------------------

    def create_account(self, email: str) -> dict[str, Any]:
        """Create an account: a 6-digit code is e-mailed to confirm the address."""
        return self._advance(
            self.request(
                "POST",
                "/activations/current/account",
                json_body={"email": email},
                auth="activation",
            )
        )

    def verify_email(self, code: str) -> dict[str, Any]:
        return self._advance(
            self.request(
                "POST",
                "/activations/current/account/email-code",
                json_body={"code": code},
                auth="activation",
            )
        )

    def set_password(self, password: str) -> dict[str, Any]:
        return self._advance(
            self.request(
                "POST",
                "/activations/current/account/password",
                json_body={"password": password},
                auth="activation",
            )
        )

    def start_totp(self) -> dict[str, Any]:
        """The authenticator app's seed: ``secret`` (base32), ``otpauth_uri`` and ``qr_svg``.
        Shown once; the client does not store it."""
        return self.request("POST", "/activations/current/account/totp", auth="activation")

    def confirm_totp(self, code: str) -> dict[str, Any]:
        return self._advance(
            self.request(
                "POST",
                "/activations/current/account/totp/confirm",
                json_body={"code": code},
                auth="activation",
            )
        )

    def log_in_to_existing_account(
        self, email: str, password: str, totp_code: str
    ) -> dict[str, Any]:
        """“Log in with your account” during an invitation's activation."""
        return self._advance(
            self.request(
                "POST",
                "/activations/current/existing-account",
                json_body={"email": email, "password": password, "totp_code": totp_code},
                auth="activation",
            )
        )

    # -- terms (APP-3) ---------------------------------------------------------------------

    def terms(self) -> dict[str, Any]:
        """The current terms: ``version`` and ``text`` (Markdown)."""
        return self.request("GET", "/terms")

    def accept_terms(self, version: str) -> dict[str, Any]:
        return self._advance(
            self.request(
                "POST",
                "/activations/current/terms",
                json_body={"version": version},
                auth="activation",
            )
        )

    # -- the device (APP-4) ----------------------------------------------------------------

    def bind_device(
        self,
        name: str,
        pin: str,
        *,
        key_alg: str = "Ed25519",
        biometrics: bool = False,
    ) -> dict[str, Any]:
        """“Create a PIN” (after “Confirm the PIN”): makes the device key pair here, sends the
        public key and the PIN; with ``biometrics`` a second key pair for biometric approvals.
        The private keys are written to the state directory only once the server accepted."""
        self._activation_token()  # fail before making keys if there is no activation
        device_key = new_private_key(key_alg)
        body: dict[str, Any] = {
            "name": name,
            "platform": self.platform,
            "key_alg": key_alg,
            "public_key": public_key_b64(device_key),
            "pin": pin,
        }
        biometric_key = new_private_key(key_alg) if biometrics else None
        if biometric_key is not None:
            body["biometric_key_alg"] = key_alg
            body["biometric_public_key"] = public_key_b64(biometric_key)
        answer = self.request(
            "POST", "/activations/current/device", json_body=body, auth="activation"
        )
        self._remove_keys()
        self._write_key(DEVICE_KEY_FILE, device_key)
        if biometric_key is not None:
            self._write_key(BIOMETRIC_KEY_FILE, biometric_key)
        self.state.device_id = answer["device_id"]
        self.state.key_alg = key_alg
        self.state.biometrics = biometric_key is not None
        self.state.person = answer.get("person")
        self.state.activation_token = None
        self.state.activation_kind = None
        self.state.invitation = None
        self.state.step = "done"
        self.state.app_session_token = None
        self.state.app_session_expires_at = None
        self.save()
        return answer

    # -- approvals: the one signature format every use goes through ---------------------------

    def sign_challenge(
        self,
        purpose: str,
        nonce: str,
        context: str | None,
        *,
        pin: str | None = None,
        biometric: bool = False,
    ) -> dict[str, Any]:
        """The proof for one challenge: the device key's signature, and the PIN or the
        biometric key's signature over the same message."""
        message = signed_message(purpose, nonce, context)
        proof: dict[str, Any] = {
            "nonce": nonce,
            "signature": sign(self._read_key(DEVICE_KEY_FILE), message),
        }
        if biometric:
            if not self.state.biometrics:
                raise local_error(
                    "biometrics_not_enrolled",
                    "Biometrics were not turned on for this app.",
                    next_step="Enter your PIN.",
                )
            # Here the platform would show the fingerprint / Face ID prompt; only after it
            # succeeds does it let the app use this key.
            proof["biometric_signature"] = sign(self._read_key(BIOMETRIC_KEY_FILE), message)
        elif pin is not None:
            proof["pin"] = pin
        else:
            raise local_error("pin_required", "Confirm with your PIN or with biometrics.")
        return proof

    def challenge(self, purpose: str, context: str | None = None) -> dict[str, Any]:
        """A fresh single-use nonce (valid 2 minutes) for ``purpose`` and ``context``."""
        return self.request(
            "POST",
            f"/devices/{self._device_id()}/challenges",
            json_body={"purpose": purpose, "context": context},
        )

    def approve(
        self,
        purpose: str,
        context: str | None,
        pin: str | None = None,
        biometric: bool = False,
        extra: dict[str, Any] | None = None,
        *,
        path: str | None = None,
        auth: Auth = None,
    ) -> dict[str, Any]:
        """Fetches a challenge for ``purpose``/``context``, signs it, and adds the PIN or the
        biometric signature. With ``path`` (below ``/app-api/v1``) the proof, merged with
        ``extra``, is POSTed there and the answer returned; without, the body is returned for
        the caller to send (e.g. a web-login approval with the transaction's decision)."""
        nonce = self.challenge(purpose, context)["nonce"]
        body = {**self.sign_challenge(purpose, nonce, context, pin=pin, biometric=biometric)}
        body.update(extra or {})
        if path is None:
            return body
        return self.request("POST", path, json_body=body, auth=auth)

    # -- the bound app (APP-5 … APP-8) ------------------------------------------------------

    def unlock(self, pin: str | None = None, *, biometric: bool = False) -> dict[str, Any]:
        """Unlock with the PIN, or with biometrics (``biometric=True`` stands for the
        platform's fingerprint / Face ID prompt succeeding). Answers ``expires_at``."""
        answer = self.approve(
            "unlock", None, pin, biometric, path=f"/devices/{self._device_id()}/unlock"
        )
        self.state.app_session_token = answer["app_session_token"]
        self.state.app_session_expires_at = answer.get("expires_at")
        self.save()
        return {"expires_at": answer.get("expires_at")}

    def lock(self) -> None:
        """Lock: ends the app session; unlock again with PIN or biometrics."""
        if self.state.app_session_token:
            with contextlib.suppress(AppError):
                self.request("POST", "/session/lock", auth="session")
        self.state.app_session_token = None
        self.state.app_session_expires_at = None
        self.save()

    def logout(self) -> None:
        """Log out: this device's activation ends on the server and here (keys deleted).
        Activate again with the account (“Two-factor authentication already done”)."""
        self._device_id()
        self.request("POST", "/session/logout", auth="session")
        self._forget_device()

    def logout_everywhere(self) -> dict[str, Any]:
        """Log out from all devices: every device and web session of the person ends; the
        account alone no longer activates the app (a new invitation is needed)."""
        self._device_id()
        answer = self.request("POST", "/session/logout-everywhere", auth="session")
        self._forget_device()
        return answer

    def me(self) -> dict[str, Any]:
        """The person, their companies and devices (needs the app unlocked)."""
        return self.request("GET", "/me", auth="session")

    # -- re-activation ---------------------------------------------------------------------

    def reactivate_with_account(self, email: str, password: str, totp_code: str) -> dict[str, Any]:
        """“Two-factor authentication already done”: e-mail, password, authenticator code;
        then terms (if asked) and a new PIN with ``bind_device``."""
        answer = self.request(
            "POST",
            "/activations/account",
            json_body={"email": email, "password": password, "totp_code": totp_code},
        )
        self._begin_activation("account", answer["activation_token"], answer["step"])
        self.state.person = answer.get("person")
        self.save()
        return {k: v for k, v in answer.items() if k != "activation_token"}

    def start_bank_id(self, provider: str = "fi_bank") -> str:
        """Finnish users (APP-9): returns the bank ID authorization URL to open in a browser.
        Keeps a verifier whose S256 challenge the server binds the result to."""
        verifier = secrets.token_urlsafe(48)
        answer = self.request(
            "POST",
            "/activations/bank-id",
            json_body={"provider": provider, "code_challenge": pkce_challenge(verifier)},
        )
        self.state.bank_id_verifier = verifier
        self.save()
        return str(answer["authorization_url"])

    def finish_bank_id(self, handoff: str) -> dict[str, Any]:
        """The browser came back to ``portti-app://activation?handoff=…``: exchange the handoff
        (the code or that whole URL) and the kept verifier for an activation token."""
        if "handoff=" in handoff:
            values = parse_qs(urlsplit(handoff).query).get("handoff")
            handoff = values[0] if values else ""
        verifier = self.state.bank_id_verifier
        if not verifier:
            raise local_error(
                "no_bank_id_login",
                "No bank ID login was started on this device.",
                next_step="Start again with Finnish bank ID.",
            )
        answer = self.request(
            "POST",
            "/activations/bank-id/handoff",
            json_body={"handoff": handoff, "code_verifier": verifier},
        )
        self._begin_activation("bank_id", answer["activation_token"], answer["step"])
        self.state.person = answer.get("person")
        self.save()
        return {k: v for k, v in answer.items() if k != "activation_token"}

    # -- local ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What this installation is, without secrets."""
        s = self.state
        if s.device_id:
            where = "unlocked" if s.unlocked else "locked"
        elif s.activation_token:
            where = "activating"
        else:
            where = "not activated"
        return {
            "server": s.base_url,
            "state": where,
            "device_id": s.device_id,
            "key_alg": s.key_alg,
            "biometrics": s.biometrics,
            "activation": s.activation_kind,
            "next_step": s.step if s.activation_token else None,
            "invitation": s.invitation,
            "person": s.person,
            "app_session_expires_at": s.app_session_expires_at if s.unlocked else None,
            "bank_id_started": s.bank_id_verifier is not None,
        }

    # -- log in on a computer: "Read QR code for web login" (WEB-2) and step-up (ADM-2) ------

    def scan_qr(self, payload: str) -> dict[str, Any]:
        """“Read QR code for web login”: sends what the camera read (``portti1.…``; it changes
        every second, so send it at once). Answers what is asking — ``service``, ``browser``,
        ``place`` (the browser's country, "This network" or "Unknown"), ``origin`` (the site the
        browser was on; show a warning when ``origin_matches`` is false: a relayed login),
        ``requested_at`` — the ``numbers`` to pick from (the login page shows one), the
        ``approval_id`` and the ``purpose`` (``login`` or ``step_up``)."""
        return self.request(
            "POST", "/login-approvals/scan", json_body={"qr": payload.strip()}, auth="session"
        )

    def enter_login_code(self, code: str) -> dict[str, Any]:
        """The 8-character code the login page shows after “Type a code instead”, when the
        camera cannot be used. Valid for 30 seconds (``login_code_expired`` after). Answers as
        ``scan_qr``."""
        return self.request(
            "POST", "/login-approvals/code", json_body={"code": code}, auth="session"
        )

    def pending_approvals(self) -> list[dict[str, Any]]:
        """Requests waiting for this person: step-ups ("Authenticate to add users" in a browser
        where they are logged in), and logins this app has read but not answered."""
        answer = self.request("GET", "/login-approvals/pending", auth="session")
        approvals: list[dict[str, Any]] = answer.get("approvals", [])
        return approvals

    def approve_login(
        self,
        approval_id: str,
        number: int,
        pin: str | None = None,
        *,
        biometric: bool = False,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """Confirm with the PIN (or biometrics) and the number the login page shows: a signed
        ``approve_login`` challenge whose context is the approval id. ``nonce``: the challenge
        that came with ``scan_qr``'s answer (saves a round trip; single use — without it a
        fresh one is fetched). A wrong number refuses the login for good (``number_mismatch``)."""
        path = f"/login-approvals/{approval_id}/approve"
        if nonce is not None:
            proof = self.sign_challenge(
                "approve_login", nonce, approval_id, pin=pin, biometric=biometric
            )
            return self.request("POST", path, json_body={**proof, "number": number}, auth="session")
        return self.approve(
            "approve_login",
            approval_id,
            pin,
            biometric,
            extra={"number": number},
            path=path,
            auth="session",
        )

    def reject_login(self, approval_id: str) -> dict[str, Any]:
        """“This wasn't me”: the login is refused and the browser says so."""
        return self.request("POST", f"/login-approvals/{approval_id}/reject", auth="session")
