"""`portti serve` says where it serves, in its log, once it has read its settings (OPS-12)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_serve_logs_the_address_it_serves(live_server) -> None:  # OPS-12
    lines = [line for line in live_server.log_path.read_text().splitlines() if "serving" in line]
    assert lines, live_server.log_tail()
    assert live_server.url in lines[0], lines[0]
    assert "event='serving'" in lines[0] and ("'sqlite'" in lines[0] or "'postgresql'" in lines[0])
