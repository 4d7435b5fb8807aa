"""SCIM (PRV-3) with clients nobody here wrote, against ``portti serve``: ``scim2-client`` drives
every operation an identity provider uses, and the conformance checker ``scim-sanity`` probes the
endpoint. The machine client is registered with ``portti clients register-machine`` and its
access token fetched from ``/oidc/token``, as the business software does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from scim2_models import (
    ListResponse,
    PatchOp,
    PatchOperation,
    PreconditionFailedException,
    SearchRequest,
    UniquenessException,
)
from sqlalchemy import select

from portti.companies.models import Company
from portti.db.session import make_engine, make_session_factory
from support.live_server import LiveServer, run_portti, running_server, server_env
from support.pg import scratch_database
from support.scim_client import HttpxSCIMClient

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BACKEND = os.environ.get("PORTTI_TEST_DATABASE", "sqlite")
PG_ADMIN = os.environ.get("PORTTI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
EXT = "urn:ietf:params:scim:schemas:extension:portti:2.0:User"
# The only scim-sanity checks that fail, each allowed by the RFC (docs/scim.md, "Conformance").
ALLOWED_FAILURES = {"POST /Groups"}


@dataclass(frozen=True)
class Endpoint:
    server: LiveServer
    company_id: int
    token: str

    @property
    def base(self) -> str:
        return f"{self.server.url}/scim/v2/companies/{self.company_id}"


def company_id(server: LiveServer, name: str) -> int:
    engine = make_engine(server.database_url)
    try:
        with make_session_factory(engine)() as db:
            return int(db.scalars(select(Company.id).where(Company.name == name)).one())
    finally:
        engine.dispose()


def machine_token(server: LiveServer, workdir: Path, company: int, name: str) -> str:
    """A machine client for ``company`` with the scope scim, registered from the command line;
    an access token from the client credentials grant."""
    out = workdir / f"{name}.json"
    env = server_env(server.database_url, server.url, server.secret_key)
    run_portti(
        [
            "clients",
            "register-machine",
            "--name",
            name,
            "--scope",
            "scim",
            "--company-id",
            str(company),
            "--json-out",
            str(out),
        ],
        env,
        workdir,
        server.log_path,
    )
    reg = json.loads(out.read_text())
    r = httpx.post(
        f"{server.url}/oidc/token",
        data={"grant_type": "client_credentials", "scope": "scim"},
        auth=(reg["client_id"], reg["client_secret"]),
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture(scope="module")
def scim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """This module's own server on the demo data: the users it provisions stay out of the
    other end-to-end tests' companies."""
    workdir = tmp_path_factory.mktemp("scim-server")
    if BACKEND == "postgresql":
        with (
            scratch_database(PG_ADMIN, "portti_scim") as url,
            running_server(url, workdir, prepare=(["migrate"], ["demo"])) as server,
        ):
            yield server
    else:
        url = f"sqlite:///{workdir / 'portti.db'}"
        with running_server(url, workdir, prepare=(["migrate"], ["demo"])) as server:
            yield server


@pytest.fixture(scope="module")
def endpoint(scim_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Endpoint:
    company = company_id(scim_server, "Mäkinen Design Oy")
    token = machine_token(scim_server, tmp_path_factory.mktemp("scim"), company, "Entra ID")
    return Endpoint(scim_server, company, token)


@pytest.fixture
def scim(endpoint: Endpoint) -> Iterator[HttpxSCIMClient]:
    http = httpx.Client(
        base_url=endpoint.base, headers={"Authorization": f"Bearer {endpoint.token}"}
    )
    client = HttpxSCIMClient(http)
    client.discover()
    yield client
    http.close()


def ee_code(n: int) -> str:
    from stdnum.ee import ik

    base = f"4900212{n:02d}5"
    return base + ik.calc_check_digit(base + "0")


def test_scim2_client_drives_every_operation(scim: HttpxSCIMClient, endpoint: Endpoint):  # PRV-3
    user_model = scim.get_resource_model("User")
    group_model = scim.get_resource_model("Group")
    assert user_model is not None and group_model is not None
    assert EXT in user_model.get_extension_models()
    ext_model = user_model.get_extension_models()[EXT]
    assert scim.provider.config is not None
    assert scim.provider.config.etag.supported is True

    # Create, read, find.
    user = user_model.model_validate(
        {
            "userName": "bjorn.berg@makinen.example",
            "externalId": "entra-77",
            "name": {"givenName": "Björn", "familyName": "Berg"},
            "emails": [{"value": "bjorn.berg@makinen.example", "type": "work", "primary": True}],
            "active": True,
        }
    )
    user[ext_model] = ext_model(identifier=ee_code(1), issuing_country="EE")
    created = scim.create(user)
    assert created.id and created.meta.version
    assert created[ext_model].portti_id
    read = scim.query(user_model, created.id)
    assert read.user_name == "bjorn.berg@makinen.example"
    for query in (
        'userName eq "BJORN.BERG@makinen.example"',
        'externalId eq "entra-77"',
        'emails.value eq "bjorn.berg@makinen.example"',
    ):
        found = scim.query(user_model, query_parameters=SearchRequest(filter=query))
        assert isinstance(found, ListResponse)
        assert [r.id for r in found.resources] == [created.id], query

    # Pages: every member of the demo company, counted and walked.
    first = scim.query(user_model, query_parameters=SearchRequest(start_index=1, count=2))
    assert first.total_results >= 3 and len(first.resources) == 2
    second = scim.query(user_model, query_parameters=SearchRequest(start_index=3, count=2))
    assert {r.id for r in first.resources}.isdisjoint({r.id for r in second.resources})

    # Replace, with the version read (If-Match); a stale version is refused.
    read.display_name = "Björn B."
    replaced = scim.replace(read)
    assert replaced.display_name == "Björn B."
    assert replaced.meta.version != read.meta.version
    read.display_name = "Someone else"
    with pytest.raises(PreconditionFailedException):
        scim.replace(read)

    # A second user with the same userName is refused.
    twin = user_model.model_validate(
        {
            "userName": "Bjorn.Berg@makinen.example",
            "name": {"givenName": "Björn", "familyName": "Other"},
        }
    )
    twin[ext_model] = ext_model(identifier=ee_code(2), issuing_country="EE")
    with pytest.raises(UniquenessException):
        scim.create(twin)

    # Groups are the roles: adding a member gives the role.
    groups = scim.query(group_model)
    assert "Bookkeeper" in {g.display_name for g in groups.resources}
    patch = PatchOp[group_model](
        operations=[
            PatchOperation[group_model](op="add", path="members", value=[{"value": created.id}])
        ]
    )
    book = scim.modify(group_model, "bookkeeper", patch)
    assert created.id in {m.value for m in book.members}
    assert [g.value for g in scim.query(user_model, created.id).groups] == ["bookkeeper"]

    # active false ends the membership; the person stays (and could be linked again).
    deactivate = PatchOp[user_model](
        operations=[PatchOperation[user_model](op="replace", path="active", value=False)]
    )
    ended = scim.modify(user_model, created.id, deactivate)
    assert ended.active is False
    assert ended[ext_model].valid_until is not None

    # Delete: the membership goes, the person stays in Portti.
    scim.delete(user_model, created.id)
    gone = scim.query(user_model, query_parameters=SearchRequest(filter='externalId eq "entra-77"'))
    assert gone.total_results == 0
    again = user_model.model_validate(
        {
            "userName": "bjorn.berg@makinen.example",
            "name": {"givenName": "Björn", "familyName": "Berg"},
        }
    )
    again[ext_model] = ext_model(
        identifier=ee_code(1), issuing_country="EE", portti_id=created[ext_model].portti_id
    )
    relinked = scim.create(again)
    assert relinked[ext_model].portti_id == created[ext_model].portti_id


def test_scim_sanity_finds_only_the_documented_failures(endpoint: Endpoint):  # PRV-3
    extra: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
        EXT: {"identifier": ee_code(3), "issuingCountry": "EE"},
    }
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "scim-sanity"),
            "probe",
            endpoint.base,
            "--token",
            endpoint.token,
            "--i-accept-side-effects",
            "--json-output",
            "--extra-user-fields",
            json.dumps(extra),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(proc.stdout)
    failed = {r["name"] for r in report["results"] if r["status"] in {"fail", "error"}}
    warned = [r for r in report["results"] if r["status"] == "warn"]
    passed = {r["name"] for r in report["results"] if r["status"] == "pass"}
    assert failed == ALLOWED_FAILURES, report["results"]
    assert not warned, warned
    assert {
        "POST /Users",
        "PUT /Users/{id}",
        "PATCH /Users/{id}",
        "GET /Users/{id} after PATCH",
        "DELETE /Users/{id}",
        "GET /Users?filter (no match)",
        "POST /Users missing userName (expect 400)",
    } <= passed
    # Every allowed failure is listed in the documentation with the RFC section allowing it.
    doc = (ROOT / "docs" / "scim.md").read_text()
    conformance = doc.split("## Conformance", 1)[1]
    for name in ALLOWED_FAILURES:
        row = next(line for line in conformance.splitlines() if f"`{name}`" in line)
        assert "RFC 7644 §" in row or "RFC 7643 §" in row
