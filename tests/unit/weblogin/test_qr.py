"""The QR login's pure parts: frames and their MAC, the short code, and what the app is told
about the browser that is asking (WEB-1, WEB-2)."""

from __future__ import annotations

import pytest

from portti.qrlogin.codes import (
    CROCKFORD,
    format_short_code,
    new_short_code,
    normalise_short_code,
)
from portti.qrlogin.frames import QrFrames, render_qr_svg
from portti.qrlogin.requester import describe_browser, origin_of
from portti.weblogin.errors import QrInvalid

ID = "AbCdEfGhIjKlMnOpQrStUv"


def test_frames_differ_every_second_and_per_transaction_and_per_secret():  # WEB-1
    frames = QrFrames(b"secret-one" * 4)
    assert frames.payload(ID, 7) != frames.payload(ID, 8)
    assert frames.mac(ID, 7) != frames.mac(ID[::-1], 7)
    assert frames.mac(ID, 7) != QrFrames(b"secret-two" * 4).mac(ID, 7)


def test_a_frame_parses_back_and_its_mac_verifies():  # WEB-1
    frames = QrFrames(b"k" * 32)
    public_id, elapsed, mac = frames.parse(frames.payload(ID, 42))
    assert (public_id, elapsed) == (ID, 42)
    assert frames.verify(public_id, elapsed, mac)
    assert not frames.verify(public_id, elapsed + 1, mac)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "portti1",
        f"portti2.{ID}.1.0123456789abcdef",
        f"portti1.{ID}.1.0123456789ABCDEF",
        f"portti1.{ID}.-1.0123456789abcdef",
        f"portti1.{ID}.1.0123456789abcde",
        "x" * 200,
    ],
)
def test_anything_else_is_not_a_frame(text):  # WEB-1
    with pytest.raises(QrInvalid):
        QrFrames.parse(text)


def test_svg_is_inline_accessible_and_has_no_style_attributes():  # WEB-1 (CSP style-src 'self')
    svg = render_qr_svg(QrFrames(b"k" * 32).payload(ID, 3))
    assert svg.startswith('<svg role="img" aria-label="QR code for logging in with the Portti app"')
    assert "<?xml" not in svg and "style=" not in svg and "<title>" in svg


def test_short_codes_are_crockford_base32_read_forgivingly():  # WEB-2
    code = new_short_code()
    assert len(code) == 8 and set(code) <= set(CROCKFORD)
    assert format_short_code("K7QM3XZP") == "K7QM-3XZP"
    assert normalise_short_code(" k7qm-3xzp ") == "K7QM3XZP"
    assert normalise_short_code("IL0O-1234") == "1100" + "1234"
    assert normalise_short_code("K7QM-3XZU") is None  # U is not in the alphabet
    assert normalise_short_code("K7QM") is None


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/18.1 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1",
            "Chrome on iOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/131.0.0.0 Safari/537.36",
            "Chrome on Linux",
        ),
        ("curl/8.5.0", "Unknown browser"),
        (None, "Unknown browser"),
    ],
)
def test_the_browser_is_described_roughly(ua, expected):  # WEB-2
    assert describe_browser(ua) == expected


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("https://portti.example", "https://portti.example"),
        ("https://Portti.Example:443", "https://portti.example"),
        ("http://127.0.0.1:8104/", "http://127.0.0.1:8104"),
        ("https://portti.example/login?next=/", "https://portti.example"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("null", None),
        ("portti.example", None),
        ("javascript:alert(1)", None),
        ("https://portti.example:99999", None),
        ("https://" + "a" * 300, None),
        (None, None),
    ],
)
def test_an_origin_is_read_strictly(text, origin):  # SEC-13
    assert origin_of(text) == origin


@pytest.mark.parametrize(
    ("stored", "swedish"),
    [
        ("Chrome on Linux", "Chrome på Linux"),
        ("A browser on Windows", "En webbläsare på Windows"),
        ("Unknown browser", "Okänd webbläsare"),
        ("Firefox", "Firefox"),
        ("Something odd on Mars", "Something odd on Mars"),
    ],
)
def test_the_audit_logs_browser_words_read_in_the_readers_language(stored, swedish):  # UX-16
    from portti.i18n import localize
    from portti.qrlogin.requester import described_browser

    assert str(localize(described_browser(stored), "sv")) == swedish
