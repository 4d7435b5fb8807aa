"""Adding many users from a file (PRV-4): every row checked as the add-user wizard checks one
user, a preview of every row's errors that writes nothing, and the adding of the valid rows.

Each row goes through ``NewUsers.check`` and the add-user wizard's writing (``new_users.py``): the same
identifier validation (python-stdnum), e-mail and phone rules, role rules (ADM-9, SEC-7) and the
same rule that people are linked only by Portti ID together with their identifier, never merged
by e-mail or name (ADM-5). What the file adds to those: role names in any language, dates written
the Finnish way too, and the same person twice in one file.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select

from portti.companies.actors import Actor
from portti.companies.csv_file import LABELS, FileRow, QuotedNames, UsersFile
from portti.companies.forms import MESSAGES
from portti.companies.models import Company, Membership, Role
from portti.companies.new_users import NewUserPlan
from portti.companies.policy import AdminGrant
from portti.companies.schemas import AddUserInput
from portti.companies.services import MembershipService
from portti.i18n import SUPPORTED, _l, localize
from portti.people.identity_numbers import IdentifierKind
from portti.people.portti_id import InvalidPorttiId, normalise_portti_id

ROLE_SEPARATORS = re.compile(r"[,;|\n]")
FINNISH_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
ID_KINDS = {
    "personal_number": _l("Foreign personal identity number"),
    "other_code": _l("Other identifying code (e.g. date of birth)"),
}
# Shorter names a file may use for a kind, in any language.
ID_KIND_ALIASES = {"other_code": _l("Other identifying code")}
# Where a message of the wizard is reported in the file: its column.
FIELD_COLUMN = {"profiles": "roles", "validity": "valid_until", "method": "id_value"}


@dataclass
class RowResult:
    """One row of the file: its cells, its errors by column, and what adding it would do."""

    number: int
    cells: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    data: AddUserInput | None = None
    plan: NewUserPlan | None = None
    membership: Membership | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def name(self) -> str:
        return " ".join(
            x for x in (self.cells.get("given_name"), self.cells.get("family_name")) if x
        )

    def messages(self) -> list[tuple[str, str]]:
        """(column label, message) in the reader's language, in the file's column order."""
        order = list(LABELS)
        return [
            (str(localize(LABELS.get(col, col))), str(localize(msg)))
            for col, msg in sorted(
                self.errors.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99
            )
        ]


@dataclass(frozen=True)
class Checked:
    rows: list[RowResult]

    @property
    def valid(self) -> list[RowResult]:
        return [r for r in self.rows if r.ok]

    @property
    def invalid(self) -> list[RowResult]:
        return [r for r in self.rows if not r.ok]


def parse_date(text: str) -> date:
    """2026-12-31 or, as Finnish and Swedish spreadsheets write it, 31.12.2026."""
    m = FINNISH_DATE.match(text)
    if m:
        return date(int(m[3]), int(m[2]), int(m[1]))
    return date.fromisoformat(text)


class BulkAddService:
    """Checks and adds the rows of a file with the wizard's own service."""

    def __init__(self, members: MembershipService) -> None:
        self.members = members
        self.db = members.db

    def role_lookup(self) -> dict[str, str]:
        """Every name a role is known by (its code, its name in each language), folded."""
        lookup: dict[str, str] = {}
        for role in self.db.scalars(select(Role)):
            lookup[role.code.casefold()] = role.code
            for language in SUPPORTED:
                lookup[" ".join(str(localize(role.name, language)).split()).casefold()] = role.code
        return lookup

    def template_roles(self, grant: AdminGrant, company: Company) -> list[str]:
        """The names of the roles this admin may give, in the reader's language."""
        return [str(localize(r.name)) for r in self.members.available_roles(grant, company)]

    def preview(self, actor: Actor, company_id: int, file: UsersFile) -> Checked:
        """Every row checked; nothing written."""
        company, grant = self.members.require_change_rights(actor, company_id)
        return self._check(company, grant, file)

    def add(self, actor: Actor, company_id: int, file: UsersFile) -> Checked:
        """The rows checked again (the database may have changed since the preview), then every
        valid row added, each audited as the wizard's adding is, with its row number."""
        company, grant = self.members.require_change_rights(actor, company_id)
        checked = self._check(company, grant, file)
        staged = []
        for row in checked.valid:
            assert row.data is not None and row.plan is not None
            row.membership, created = self.members.new_users.stage(company, row.data, row.plan)
            staged.append((row, created))
        # One flush for the whole file: the ORM sends each table's rows in batches. Another
        # admin adding one of these identifiers at the same moment makes the unique index
        # refuse it: then nothing of the file is added (ValidationFailed rolls the request
        # back), and previewing the file again names that row.
        self.members.new_users.flush()
        for row, created in staged:
            assert row.data is not None and row.plan is not None and row.membership is not None
            self.members.new_users.record(
                actor,
                company,
                grant,
                row.data,
                row.plan,
                row.membership,
                created,
                {"source": "csv_file", "row": row.number},
            )
        return checked

    # -- the checks ------------------------------------------------------------------------

    def _check(self, company: Company, grant: AdminGrant, file: UsersFile) -> Checked:
        roles = self.role_lookup()
        grantable = self.members.policy.grantable_roles(grant, company)
        seen: dict[tuple[str, ...], int] = {}
        rows = []
        for file_row in file.rows:
            row = self._check_row(company, grant, file_row, roles, grantable)
            for key in self._identities(row):
                first = seen.setdefault(key, row.number)
                if first != row.number:
                    row.errors.setdefault(
                        "id_value", _l("The same person is on row %(row)s already.", row=first)
                    )
                    break
            rows.append(row)
        return Checked(rows)

    @staticmethod
    def _identities(row: RowResult) -> list[tuple[str, ...]]:
        keys: list[tuple[str, ...]] = []
        plan = row.plan
        if plan is not None and plan.value and "id_value" not in plan.errors:
            keys.append(("id", str(plan.kind), plan.country, plan.value))
        if row.data is not None and row.data.portti_id:
            with contextlib.suppress(InvalidPorttiId):
                keys.append(("portti_id", normalise_portti_id(row.data.portti_id)))
        return keys

    def _check_row(
        self,
        company: Company,
        grant: AdminGrant,
        file_row: FileRow,
        roles: dict[str, str],
        grantable: set[str],
    ) -> RowResult:
        row = RowResult(file_row.number, file_row.cells)
        cells = file_row.cells
        values: dict[str, Any] = {
            key: cells[key]
            for key in ("id_value", "given_name", "family_name", "email", "phone", "portti_id")
            if key in cells
        }
        values.setdefault("id_value", "")
        country = cells.get("id_country", "").upper()
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            row.errors["id_country"] = _l(
                "Give the issuing country as a two-letter code, such as SE or EE."
            )
            country = ""
        kind = self._id_kind(cells.get("id_kind", ""), row)
        if kind == "other_code" or country not in {"", "FI"}:
            values.update(method="foreign", id_kind=kind, id_country=country)
        else:
            values.update(method="fi_hetu")
        values["already_user"] = bool(cells.get("portti_id"))
        values["roles"] = self._role_codes(cells.get("roles", ""), roles, row)
        for key in ("valid_from", "valid_until"):
            if cells.get(key):
                try:
                    values[key] = parse_date(cells[key])
                except ValueError:
                    row.errors[key] = _l("Give a date like 2026-12-31 or 31.12.2026.")
        if values.get("valid_from") or values.get("valid_until") or cells.get("valid_until"):
            values["validity"] = "time_limited"
        try:
            row.data = AddUserInput.model_validate(values)
        except PydanticValidationError as exc:
            for e in exc.errors():
                col = str(e["loc"][0]) if e["loc"] else "id_value"
                row.errors.setdefault(FIELD_COLUMN.get(col, col), MESSAGES.get(e["type"], e["msg"]))
            return row
        row.plan = plan = self.members.new_users.check(
            company, grant, row.data, grantable=grantable
        )
        for col, message in plan.errors.items():
            row.errors.setdefault(FIELD_COLUMN.get(col, col), message)
        if not row.data.roles and "roles" not in cells:
            # The wizard's "profile or role": a file gives roles only.
            row.errors["roles"] = _l("Give at least one role.")
        if plan.already_member:
            row.errors.pop("portti_id", None)
            row.errors["id_value"] = _l("This person is already a user of this company.")
        elif plan.needs_portti_id:
            row.errors["id_value"] = _l(
                "A Portti user with this identifier exists already. To add them to this "
                "company, give their Portti ID in the “Portti ID” column; a new user cannot be "
                "created for them."
            )
        elif row.data.already_user and getattr(row.errors.get("portti_id"), "msgid", "").startswith(
            "No Portti user has this Portti ID"
        ):
            row.errors["portti_id"] = _l(
                "No Portti user has this Portti ID together with this row's identifier. Check both."
            )
        return row

    @staticmethod
    def _id_kind(text: str, row: RowResult) -> str:
        if not text:
            return "personal_number"
        folded = " ".join(text.split()).casefold()
        for code, label in ID_KINDS.items():
            labels = [label, *([ID_KIND_ALIASES[code]] if code in ID_KIND_ALIASES else [])]
            names = {code, code.replace("_", " ")} | {
                str(localize(x, lang)).casefold() for x in labels for lang in SUPPORTED
            }
            if folded in names:
                return code
        row.errors["id_kind"] = _l(
            "Unknown kind of identifier “%(kind)s”: leave it empty for a personal identity "
            "number, or write “%(other)s” for another code such as a date of birth.",
            kind=text,
            other=ID_KINDS["other_code"],
        )
        return "personal_number"

    @staticmethod
    def _role_codes(text: str, roles: dict[str, str], row: RowResult) -> list[str]:
        codes: list[str] = []
        unknown: list[str] = []
        for part in ROLE_SEPARATORS.split(text):
            name = " ".join(part.split())
            if not name:
                continue
            code = roles.get(name.casefold())
            if code is None:
                unknown.append(name)
            elif code not in codes:
                codes.append(code)
        if unknown:
            row.errors["roles"] = _l(
                "Unknown roles: %(roles)s. Use the role names of the template.",
                roles=QuotedNames(unknown),
            )
        return codes


def needs_the_app(m: Membership) -> bool:
    """Whether the person logs in with the Portti app: one without a Finnish personal identity
    code cannot use a Finnish bank ID (APP-9)."""
    return not any(i.kind == IdentifierKind.FI_HETU for i in m.person.identifiers)
