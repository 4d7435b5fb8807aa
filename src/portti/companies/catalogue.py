"""The role catalogue and default profiles. The initial migration writes these rows."""

from __future__ import annotations

from typing import Final

from portti.i18n import _l

USER_ADMIN: Final = "user_admin"  # KH
OFFICE_MAIN_USER: Final = "office_main_user"  # TPK
SUPPORT: Final = "support"

# (code, name, description, is_system, is_ledger, sort_order)
ROLES: Final[list[tuple[str, str, str, bool, bool, int]]] = [
    (
        USER_ADMIN,
        _l("User administrator"),
        _l("Adds users, changes their roles, invites them."),
        True,
        False,
        10,
    ),
    (
        OFFICE_MAIN_USER,
        _l("Main user at the accounting office"),
        _l("Administers the users of the office's client companies."),
        True,
        False,
        20,
    ),
    (
        SUPPORT,
        _l("Customer service"),
        _l("The operator's support staff; administers every company."),
        True,
        False,
        30,
    ),
    (
        "purchase_invoice_inspector",
        _l("Purchase invoice inspector"),
        _l("Inspects incoming purchase invoices."),
        False,
        True,
        100,
    ),
    (
        "purchase_invoice_approver",
        _l("Purchase invoice approver"),
        _l("Approves purchase invoices for payment."),
        False,
        True,
        110,
    ),
    (
        "purchase_invoice_payer",
        _l("Purchase invoice payer"),
        _l("Pays approved purchase invoices."),
        False,
        True,
        120,
    ),
    (
        "bookkeeper",
        _l("Bookkeeper"),
        _l("Keeps the books: vouchers, reconciliation, closing."),
        False,
        True,
        130,
    ),
    ("payroll", _l("Payroll"), _l("Runs payroll and handles salary data."), False, False, 140),
    ("reporting", _l("Reporting"), _l("Reads financial reports."), False, False, 150),
    (
        "read_only",
        _l("Read-only"),
        _l("Sees the company's data without changing it."),
        False,
        False,
        160,
    ),
]

# (name, description, role codes): profiles offered to every company.
PROFILES: Final[list[tuple[str, str, list[str]]]] = [
    (
        _l("Purchase invoice circulation"),
        _l("Inspect, approve and pay purchase invoices."),
        ["purchase_invoice_inspector", "purchase_invoice_approver", "purchase_invoice_payer"],
    ),
    (_l("Accountant"), _l("Bookkeeping and reports."), ["bookkeeper", "reporting"]),
    (_l("Payroll clerk"), _l("Payroll and reports."), ["payroll", "reporting"]),
    (_l("Viewer"), _l("Read-only access and reports."), ["read_only", "reporting"]),
]

ADMIN_ROLES: Final = frozenset({USER_ADMIN, OFFICE_MAIN_USER, SUPPORT})
