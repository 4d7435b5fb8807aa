"""SCIM ``Groups``: the company's roles. A group's members are the users holding the role;
adding a member gives the role, removing one takes it away (PRV-3). The groups themselves are
Portti's role catalogue: they cannot be created, renamed or deleted through SCIM, and only the
roles a user administrator may give are offered (never customer service or an accounting
office's main user, SEC-7)."""

from __future__ import annotations

from typing import Any

from scim2_models import Group, GroupMember
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portti.audit.models import AuditAction
from portti.companies.models import Membership, MembershipRole, Role
from portti.i18n import _l
from portti.scim.context import ScimContext, check_if_match, parse_id, version_of
from portti.scim.errors import InvalidFilter, InvalidValue, Mutability, ResourceNotFound
from portti.scim.filters import parse_filter
from portti.scim.parsing import apply_patch, read_group
from portti.scim.resources import GROUP_SCHEMA, LIST_SCHEMA
from portti.scim.user_resources import Written

GROUP_PREFIX = "urn:ietf:params:scim:schemas:core:2.0:group:"


class ScimGroups:
    def __init__(self, ctx: ScimContext) -> None:
        self.ctx = ctx
        self.db = ctx.db

    def _roles(self) -> list[Role]:
        grantable = self.ctx.grantable_roles()
        return [
            r
            for r in self.db.scalars(select(Role).order_by(Role.sort_order))
            if r.code in grantable
        ]

    def _role(self, group_id: str) -> Role:
        role = next((r for r in self._roles() if r.code == group_id), None)
        if role is None:
            raise ResourceNotFound(_l("No such group (role) in this company."))
        return role

    def _holders(self, code: str) -> list[Membership]:
        return list(
            self.db.scalars(
                select(Membership)
                .join(MembershipRole, MembershipRole.membership_id == Membership.id)
                .where(
                    Membership.company_id == self.ctx.company.id,
                    MembershipRole.role_code == code,
                )
                .order_by(Membership.id)
            )
        )

    def resource(self, role: Role, *, with_members: bool = True) -> dict[str, Any]:
        base = self.ctx.base_url
        body: dict[str, Any] = {
            "schemas": [GROUP_SCHEMA],
            "id": role.code,
            "displayName": role.name,
        }
        if with_members:
            body["members"] = [
                {
                    "value": str(m.id),
                    "display": m.person.full_name,
                    "type": "User",
                    "$ref": f"{base}/Users/{m.id}",
                }
                for m in self._holders(role.code)
            ]
        body["meta"] = {
            "resourceType": "Group",
            "location": f"{base}/Groups/{role.code}",
            "created": self.ctx.company.created_at.isoformat(),
            "lastModified": self.ctx.company.created_at.isoformat(),
        }
        if with_members:
            body["meta"]["version"] = version_of(body)
        return body

    def get(self, group_id: str, *, with_members: bool = True) -> Written:
        role = self._role(group_id)
        body = self.resource(role, with_members=with_members)
        return Written(body, body["meta"].get("version", ""))

    def search(
        self, filter_text: str | None, start_index: int, count: int, *, with_members: bool
    ) -> dict[str, Any]:
        roles = self._roles()
        for test in parse_filter(filter_text) if filter_text else []:
            path = test.path.removeprefix(GROUP_PREFIX)
            value = str(test.value)
            if path == "displayname":
                roles = [r for r in roles if r.name.casefold() == value.casefold()]
            elif path in {"id", "externalid"}:
                roles = [r for r in roles if r.code == value]
            elif path == "members.value":
                try:
                    holder = parse_id(value)
                except ResourceNotFound:
                    roles = []
                    continue
                held = set(
                    self.db.scalars(
                        select(MembershipRole.role_code)
                        .join(Membership, Membership.id == MembershipRole.membership_id)
                        .where(
                            Membership.id == holder,
                            Membership.company_id == self.ctx.company.id,
                        )
                    )
                )
                roles = [r for r in roles if r.code in held]
            else:
                raise InvalidFilter(
                    _l(
                        "Groups can be filtered by displayName, id and members.value, "
                        "not by “%(attribute)s”.",
                        attribute=test.written,
                    )
                )
        page = roles[start_index - 1 : start_index - 1 + count] if count > 0 else []
        return {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(roles),
            "startIndex": start_index,
            "itemsPerPage": len(page),
            "Resources": [self.resource(r, with_members=with_members) for r in page],
        }

    def replace(self, group_id: str, payload: Any, if_match: str | None) -> Written:
        role = self._role(group_id)
        check_if_match(if_match, self.resource(role)["meta"]["version"])
        return self._write(role, read_group(payload))

    def patch(self, group_id: str, payload: Any, if_match: str | None) -> Written:
        role = self._role(group_id)
        current = self.resource(role)
        check_if_match(if_match, current["meta"]["version"])
        model = Group.model_validate({k: v for k, v in current.items() if k != "meta"})
        return self._write(role, apply_patch(payload, model, Group))

    def _write(self, role: Role, group: Group) -> Written:
        if group.display_name is not None and group.display_name != role.name:
            raise Mutability(
                _l("A group is a Portti role: its name cannot be changed through SCIM.")
            )
        wanted: set[int] = set()
        for member in group.members or []:
            assert isinstance(member, GroupMember)
            try:
                wanted.add(parse_id(str(member.value or "")))
            except ResourceNotFound as exc:
                raise InvalidValue(
                    _l("No user %(id)s in this company.", id=str(member.value))
                ) from exc
        holders = {m.id: m for m in self._holders(role.code)}
        added = wanted - holders.keys()
        removed = holders.keys() - wanted
        if added:
            found = {
                m.id: m
                for m in self.db.scalars(
                    select(Membership)
                    .where(Membership.id.in_(added), Membership.company_id == self.ctx.company.id)
                    .options(selectinload(Membership.roles))
                )
            }
            missing = sorted(added - found.keys())
            if missing:
                raise InvalidValue(
                    _l(
                        "No user %(id)s in this company.",
                        id=", ".join(str(i) for i in missing),
                    )
                )
            for m in found.values():
                self._change_roles(m, add=role.code)
        for mid in removed:
            self._change_roles(holders[mid], remove=role.code)
        self.db.flush()
        self.db.expire_all()
        body = self.resource(role)
        return Written(body, body["meta"]["version"])

    def _change_roles(
        self, m: Membership, *, add: str | None = None, remove: str | None = None
    ) -> None:
        self.ctx.require_membership_rights(m)
        before = sorted(m.role_codes)
        if add is not None:
            m.roles.append(MembershipRole(role_code=add))
        if remove is not None:
            m.roles = [r for r in m.roles if r.role_code != remove]
        m.updated_at = self.ctx.clock.now()
        self.ctx.record(
            AuditAction.MEMBERSHIP_CHANGED,
            subject_person_id=m.person_id,
            changes={"roles": [before, sorted(m.role_codes)]},
        )
