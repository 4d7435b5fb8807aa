"""The role catalogue and default profiles. The initial migration writes these rows."""

from __future__ import annotations

from typing import Final

USER_ADMIN: Final = "user_admin"  # KH
OFFICE_MAIN_USER: Final = "office_main_user"  # TPK
SUPPORT: Final = "support"

# (code, name, description, is_system, is_ledger, sort_order)
ROLES: Final[list[tuple[str, str, str, bool, bool, int]]] = [
    (
        USER_ADMIN,
        "User administrator",
        "Adds users, changes their roles, invites them.",
        True,
        False,
        10,
    ),
    (
        OFFICE_MAIN_USER,
        "Main user at the accounting office",
        "Administers the users of the office's client companies.",
        True,
        False,
        20,
    ),
    (
        SUPPORT,
        "Customer service",
        "The operator's support staff; administers every company.",
        True,
        False,
        30,
    ),
    (
        "purchase_invoice_inspector",
        "Purchase invoice inspector",
        "Inspects incoming purchase invoices.",
        False,
        True,
        100,
    ),
    (
        "purchase_invoice_approver",
        "Purchase invoice approver",
        "Approves purchase invoices for payment.",
        False,
        True,
        110,
    ),
    (
        "purchase_invoice_payer",
        "Purchase invoice payer",
        "Pays approved purchase invoices.",
        False,
        True,
        120,
    ),
    (
        "bookkeeper",
        "Bookkeeper",
        "Keeps the books: vouchers, reconciliation, closing.",
        False,
        True,
        130,
    ),
    ("payroll", "Payroll", "Runs payroll and handles salary data.", False, False, 140),
    ("reporting", "Reporting", "Reads financial reports.", False, False, 150),
    ("read_only", "Read-only", "Sees the company's data without changing it.", False, False, 160),
]

# (name, description, role codes): profiles offered to every company.
PROFILES: Final[list[tuple[str, str, list[str]]]] = [
    (
        "Purchase invoice circulation",
        "Inspect, approve and pay purchase invoices.",
        ["purchase_invoice_inspector", "purchase_invoice_approver", "purchase_invoice_payer"],
    ),
    ("Accountant", "Bookkeeping and reports.", ["bookkeeper", "reporting"]),
    ("Payroll clerk", "Payroll and reports.", ["payroll", "reporting"]),
    ("Viewer", "Read-only access and reports.", ["read_only", "reporting"]),
]

ADMIN_ROLES: Final = frozenset({USER_ADMIN, OFFICE_MAIN_USER, SUPPORT})
