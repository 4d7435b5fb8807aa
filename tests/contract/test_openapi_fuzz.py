"""The OpenAPI document fuzzed with schemathesis (SEC-10).

Every operation is driven with data that fits its schema and with data that does not, as a
logged-in, stepped-up user administrator (so that the fuzzer reaches the handlers, not only the
login check), with a bounded number of examples. No answer may be a 5xx, every status code and
problem response must be declared for its operation, and a method a path does not have gets 405
with an ``Allow`` header.

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
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from support import factories as f
from support.web import force_login, page_csrf

CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]
EXAMPLES = 8
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


def _send(client: TestClient, case: Any, csrf: str) -> Any:
    kwargs: dict[str, Any] = case.as_transport_kwargs(
        base_url="http://testserver", headers={"X-CSRF-Token": csrf}
    )
    return client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=kwargs.get("headers"),
        json=kwargs.get("json"),
        content=kwargs.get("data"),
    )


@pytest.mark.slow
def test_openapi_fuzzing_finds_no_server_error_and_no_undocumented_answer(
    app, kh
) -> None:  # SEC-10
    schema = schemathesis.openapi.from_dict(app.openapi())
    csrf = page_csrf(kh)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @FUZZ
            @hypothesis.given(case=operation.as_strategy(mode))
            def fuzz(case: Any) -> None:
                case.validate_response(_send(kh, case, csrf), checks=CHECKS)

            try:
                fuzz()
            except hypothesis.errors.Unsatisfiable:
                # Nothing to get wrong: an operation without parameters or body.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def test_a_method_a_path_does_not_have_gets_405_with_allow(app, kh) -> None:  # SEC-10
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
            # Starlette names the methods of the first route whose path matched.
            assert allowed & served, (method, path, r.headers["allow"])
            assert allowed <= served | {"head"}, (method, path, r.headers["allow"])
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
