"""The PATCH shapes Entra ID and Okta send, as they send them (PRV-3)."""

from __future__ import annotations

from .conftest import PATCH, user_payload


def patch(scim, path: str, *operations: dict) -> object:
    return scim.patch(path, {"schemas": [PATCH], "Operations": list(operations)})


def test_entra_id_user_patches(scim):  # PRV-3
    uid = scim.post("/Users", user_payload("entra@a.fi", externalId="obj-1")).json()["id"]
    r = patch(
        scim,
        f"/Users/{uid}",
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@a.fi"},
        {"op": "Replace", "path": "displayName", "value": "Aino A"},
        {"op": "Add", "path": "externalId", "value": "obj-2"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["emails"][0]["value"] == "new@a.fi"
    assert body["displayName"] == "Aino A"
    assert body["externalId"] == "obj-2"
    # Entra ID (before its 2020 fix) sends booleans as strings.
    r = patch(scim, f"/Users/{uid}", {"op": "Replace", "path": "active", "value": "False"})
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False


def test_entra_id_group_membership_patches(scim):  # PRV-3
    uid = scim.post("/Users", user_payload("member@a.fi")).json()["id"]
    r = patch(
        scim, "/Groups/reporting", {"op": "Add", "path": "members", "value": [{"value": uid}]}
    )
    assert r.status_code == 200, r.text
    r = patch(
        scim, "/Groups/reporting", {"op": "Remove", "path": "members", "value": [{"value": uid}]}
    )
    assert r.status_code == 200, r.text
    assert uid not in {m["value"] for m in r.json().get("members", [])}


def test_okta_replaces_a_user_with_put(scim):  # PRV-3
    created = scim.post("/Users", user_payload("okta@a.fi")).json()
    body = {k: v for k, v in created.items() if k not in {"meta", "id"}}
    body["active"] = False
    r = scim.put(f"/Users/{created['id']}", body)
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False


def test_entra_id_adds_an_address_the_user_lacks(scim):  # PRV-3
    body = user_payload("noemail@a.fi")
    del body["emails"]
    uid = scim.post("/Users", body).json()["id"]
    r = patch(
        scim,
        f"/Users/{uid}",
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "found@a.fi"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["emails"][0]["value"] == "found@a.fi"
