"""The OpenAPI document fuzzed with schemathesis (SEC-10, SEC-20).

Every operation is driven with data that fits its schema and with data that does not, as a
logged-in, stepped-up user administrator (so that the fuzzer reaches the handlers, not only the
login check), with a bounded number of examples, under *every* check schemathesis has
(``--checks all``): no 5xx; every status code, header, content type and body as declared; data
that fits the schema accepted and data that does not refused; a method a path does not have
answered 405 with an ``Allow`` naming all it has; authentication not ignored; a deleted
resource gone. Those checks send probes of their own through the app (``from_asgi``).

What SEC-20 found and how it was fixed: ``Allow`` named only the methods of the first route
whose path matched (the members collection said ``GET`` though it has ``POST``) — it names
every route's now (``web/errors.py``); 409 answers were undeclared — every operation declares
them (``web/openapi.py``); request schemas accepted what the server refuses (blank names, a
sign-up code of other than 16 digits, a redirect URI that is not https or loopback http) — the
schemas say so (``json_schema_extra``); a disabled client was still readable by id — it is 404.

Operations that redeem a secret (a sign-up, SMS, e-mail or TOTP code, a PIN, a token) answer a
schema-valid but wrong secret with a refusal, and only the server knows the right one: for them
``positive_data_acceptance`` also accepts 400 (``CODE_OPERATIONS``).

An operation the fuzzer drives may end the fuzzer's own session (ending sessions, removing a
membership): ``keep_session_alive`` logs the administrator in again before the next case.

schemathesis's pytest plugin (``schema.parametrize()``) does not run on this pytest, so the
operations' Hypothesis strategies are driven here directly; the checks are schemathesis's own.
"""

from __future__ import annotations

import re
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.specs.openapi.checks import positive_data_acceptance

from portti.weblogin.models import WebSession
from portti.weblogin.sessions import hash_token
from support import factories as f
from support.web import force_login, page_csrf, session_cookie

# Operations that take a secret only the server knows: a schema-valid one is a wrong one.
CODE_OPERATIONS = {
    "POST /app-api/v1/activations",
    "POST /app-api/v1/activations/current/confirmation-code",
    "POST /app-api/v1/activations/current/account/email-code",
    "POST /app-api/v1/activations/current/account/totp/confirm",
    "POST /app-api/v1/activations/current/existing-account",
    "POST /app-api/v1/activations/account",
    "POST /app-api/v1/activations/bank-id/handoff",
    "POST /app-api/v1/devices/{device_id}/unlock",
    "POST /app-api/v1/login-approvals/code",
    "POST /app-api/v1/login-approvals/scan",
}
REFUSED_SECRET = {400, 401, 403, 404, 409, 410, 429}
# A client's ``jwks`` must hold real public keys, and a pairwise client's redirect URIs must share
# one host (SEC-18), which JSON Schema cannot say: a schema-valid body may be refused for those
# alone (and for nothing else).
JWKS_OPERATIONS = {
    "POST /api/v1/oidc-clients",
    "PUT /api/v1/oidc-clients/{client_id}",
    "POST /api/v1/machine-clients",
}
ONE_HOST = "a pairwise client's redirect URIs must all be on one host"


def refused_for_jwks_only(response: Any) -> bool:
    if response.status_code != 422:
        return False
    errors = response.json().get("errors", [])
    other = [e for e in errors if e["field"] != "jwks" and not e["message"].startswith(ONE_HOST)]
    return bool(errors) and not other


EXAMPLES = 5
METHODS = ("get", "put", "post", "delete", "patch")
FUZZ = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    suppress_health_check=list(hypothesis.HealthCheck),
)


@pytest.fixture
def kh(client: TestClient, db) -> TestClient:  # type: ignore[no-untyped-def]
    world = f.World(db)
    db.commit()
    force_login(client, world.kh_a, stepped_up=True)
    return client


class FuzzerSession:
    """The stepped-up administrator the fuzzer acts as, and the hook that keeps them logged
    in: an operation may end the session it was called with (ending a member's sessions,
    "log out"), and every later case would only meet 401."""

    def __init__(self, client: TestClient, runtime: Any, world: f.World) -> None:
        self.client, self.runtime, self.world = client, runtime, world
        self.relogins = 0
        self._log_in()

    def _log_in(self) -> None:
        force_login(self.client, self.world.kh_a, stepped_up=True)
        self.csrf = page_csrf(self.client)

    def keep_session_alive(self) -> dict[str, str]:
        token = session_cookie(self.client) or ""
        with self.runtime.session_factory() as db:
            ws = db.get(WebSession, hash_token(token))
            alive = ws is not None and ws.revoked_at is None
        if not alive:
            self.relogins += 1
            self._log_in()
        return {
            "X-CSRF-Token": self.csrf,
            "Cookie": f"portti_session={session_cookie(self.client)}",
        }


@pytest.mark.slow
def test_openapi_fuzzing_passes_every_schemathesis_check(
    app, client, db, runtime
) -> None:  # SEC-10 SEC-20
    load_all_checks()
    every_check = CHECKS.get_all()
    assert len(every_check) >= 14  # --checks all
    world = f.World(db)
    db.commit()
    session = FuzzerSession(client, runtime, world)
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            takes_secret = operation.label in CODE_OPERATIONS
            takes_jwks = operation.label in JWKS_OPERATIONS

            @FUZZ
            @hypothesis.given(case=operation.as_strategy(mode))
            def fuzz(case: Any) -> None:
                headers = session.keep_session_alive()
                if takes_secret:
                    response = case.call_and_validate(
                        headers=headers,
                        checks=every_check,
                        excluded_checks=[positive_data_acceptance],
                    )
                    if mode is GenerationMode.POSITIVE:
                        assert response.status_code < 300 or response.status_code in REFUSED_SECRET
                elif takes_jwks and mode is GenerationMode.POSITIVE:
                    response = case.call_and_validate(
                        headers=headers,
                        checks=every_check,
                        excluded_checks=[positive_data_acceptance],
                    )
                    assert (
                        response.status_code < 400
                        or response.status_code
                        in {
                            401,
                            403,
                            404,
                            409,
                        }
                        or refused_for_jwks_only(response)
                    ), response.text
                else:
                    case.call_and_validate(headers=headers, checks=every_check)

            try:
                fuzz()
            except hypothesis.errors.Unsatisfiable:
                # Nothing to get wrong: an operation without parameters or body.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def test_a_method_a_path_does_not_have_gets_405_with_allow(app, kh) -> None:  # SEC-10 SEC-20
    paths = app.openapi()["paths"]
    patterns = {path: re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$") for path in paths}
    csrf = page_csrf(kh)
    checked = 0
    for path, operations in paths.items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        # Every method any template matching this URL has ("/x/scan" is also "/x/{id}").
        served = {
            m for other, ops in paths.items() if patterns[other].match(concrete) for m in ops
        } & set(METHODS)
        for method in sorted(set(METHODS) - served):
            r = kh.request(method.upper(), concrete, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 405, (method, path, r.status_code)
            allowed = {m.strip().lower() for m in r.headers["allow"].split(",")}
            # Every method the URL has, not only those of the first route that matched it
            # (SEC-20: the members collection answered "Allow: GET" though it has POST).
            assert allowed - {"head"} == served, (method, path, r.headers["allow"])
            assert r.headers["content-type"].startswith("application/problem+json")
            checked += 1
    assert checked > 50


@pytest.mark.parametrize("bad", [0, -1, 2**31, 2**63, 2**64, 10**30])
def test_an_out_of_range_id_is_a_validation_problem_not_a_server_error(kh, bad) -> None:  # SEC-10
    """Once a 500: SQLite cannot bind an integer past 2**63-1, PostgreSQL's INTEGER past 2**31-1."""
    for url in (
        f"/api/v1/companies/{bad}/members",
        f"/api/v1/companies/1/members/{bad}",
        f"/api/v1/companies/{bad}/audit",
        f"/api/v1/companies/1/audit?before={bad}",
        f"/api/v1/companies/{bad}/undeliverable-messages",
    ):
        r = kh.get(url)
        assert r.status_code == 422, (url, r.status_code, r.text)
        assert r.json()["code"] == "validation_failed"
    page = kh.get(f"/c/{bad}/users", headers={"accept": "text/html"})
    assert page.status_code == 422
