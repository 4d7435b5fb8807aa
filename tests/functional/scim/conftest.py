"""A SCIM client of one company: the machine client's token is given to every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.machines import machine_token, register_machine

SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
EXT = "urn:ietf:params:scim:schemas:extension:portti:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Scim:
    client: TestClient
    company_id: int
    token: str | None
    client_id: str = ""

    @property
    def base(self) -> str:
        return f"/scim/v2/companies/{self.company_id}"

    def request(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        h = {"Accept": SCIM, **headers}
        if self.token is not None:
            h.setdefault("Authorization", f"Bearer {self.token}")
        if body is not None:
            h["Content-Type"] = SCIM
            import json

            return self.client.request(
                method, self.base + path, content=json.dumps(body), headers=h
            )
        return self.client.request(method, self.base + path, headers=h)

    def get(self, path: str, **headers: str) -> Any:
        return self.request("GET", path, **headers)

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.request("POST", path, body, **headers)

    def put(self, path: str, body: Any, **headers: str) -> Any:
        return self.request("PUT", path, body, **headers)

    def patch(self, path: str, body: Any, **headers: str) -> Any:
        return self.request("PATCH", path, body, **headers)

    def delete(self, path: str, **headers: str) -> Any:
        return self.request("DELETE", path, **headers)


def ee_code(n: int) -> str:
    """A valid Estonian personal identification code, different for each ``n`` (< 100)."""
    from stdnum.ee import ik

    base = f"3800108{n:02d}5"
    return base + ik.calc_check_digit(base + "0")


def user_payload(
    user_name: str,
    *,
    given: str = "Aino",
    family: str = "Asiakas",
    email: str | None = None,
    identifier: str | None = "EE-38001085718",
    country: str = "EE",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER, EXT],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": email or user_name, "type": "work", "primary": True}],
        "active": True,
    }
    ext: dict[str, Any] = {}
    if identifier is not None:
        ext = {"identifier": identifier.removeprefix("EE-"), "issuingCountry": country}
    ext |= extra.pop("ext", {})
    if ext:
        body[EXT] = ext
    body |= extra
    return body


@pytest.fixture
def scim_for(client, db, clock, runtime, world) -> Any:  # type: ignore[no-untyped-def]
    """A SCIM client of a company: a machine client with the scope scim allowed only that
    company, and an access token from the client credentials grant."""

    def make(company_id: int, *, scopes: tuple[str, ...] = ("scim",)) -> Scim:
        reg = register_machine(
            db,
            clock,
            runtime.settings.secret,
            scopes=list(scopes),
            company_ids=[company_id],
            name=f"Identity provider of company {company_id}",
        )
        return Scim(client, company_id, machine_token(client, reg), reg.client_id)

    return make


@pytest.fixture
def scim(scim_for, world) -> Scim:  # type: ignore[no-untyped-def]
    return scim_for(world.client_a.id)
