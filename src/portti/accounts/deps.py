"""Wiring the account service into requests. The password hasher and policy are long-lived:
``create_app`` puts them on the ``Runtime``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from portti.accounts.services import AccountService
from portti.audit.services import AuditLog
from portti.runtime import Runtime, runtime
from portti.web.deps import Audit, DbSession


def accounts_from(rt: Runtime, db: Session, audit: AuditLog) -> AccountService:
    """The account service wired from the runtime's hasher, password policy and limiter."""
    return AccountService(
        db,
        rt.clock,
        audit,
        secret=rt.settings.secret,
        hasher=rt.password_hasher,
        policy=rt.password_policy,
        limiter=rt.limiter,
    )


async def get_accounts(request: Request, db: DbSession, audit: Audit) -> AccountService:
    return accounts_from(runtime(request), db, audit)


Accounts = Annotated[AccountService, Depends(get_accounts)]
