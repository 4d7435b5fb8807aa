"""The QR login's series (OPS-11): started, approved with the method, refused, expired."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from support.qr import number_shown, open_qr_login, scanned


def count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_qr_logins_and_app_approvals_are_counted(browser, phone, db, settings, clock):  # OPS-11
    before = {
        outcome: count("portti_qr_logins_total", outcome=outcome)
        for outcome in ("started", "approved", "refused", "expired")
    }
    pin_before = count("portti_app_approvals_total", method="pin")

    approved = open_qr_login(browser)
    scanned(phone, db, settings, clock, approved)
    assert phone.approve(approved.public_id, number_shown(browser, approved)).status_code == 200

    refused = open_qr_login(browser)
    scanned(phone, db, settings, clock, refused)
    assert phone.reject(refused.public_id).status_code == 200

    expired = open_qr_login(browser)
    scanned(phone, db, settings, clock, expired)
    number = number_shown(browser, expired)
    clock.advance(timedelta(minutes=2))
    assert phone.approve(expired.public_id, number).status_code == 410

    after = {outcome: count("portti_qr_logins_total", outcome=outcome) for outcome in before}
    assert {k: after[k] - before[k] for k in before} == {
        "started": 3,
        "approved": 1,
        "refused": 1,
        "expired": 1,
    }
    assert count("portti_app_approvals_total", method="pin") - pin_before == 1
