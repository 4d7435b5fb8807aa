"""The country of a login's browser from a local MaxMind DB file (WEB-2, SEC-13)."""

from __future__ import annotations

import pytest

from portti.weblogin.geo import CountryLookup, Place
from support.geoip import (
    BRITISH_IP,
    JAPANESE_IPV6,
    NOT_IN_FILE_IP,
    SWEDISH_IP,
    write_country_database,
)

LOCAL = ["127.0.0.1", "::1", "10.1.2.3", "192.168.1.20", "fe80::1", "::ffff:192.168.1.20"]


@pytest.fixture(scope="module")
def lookup(tmp_path_factory):  # type: ignore[no-untyped-def]
    path = write_country_database(tmp_path_factory.mktemp("geoip") / "countries.mmdb")
    geo = CountryLookup.from_file(path)
    yield geo
    geo.close()


@pytest.mark.parametrize(
    ("ip", "place"),
    [
        (SWEDISH_IP, Place("Sweden", "SE")),
        (BRITISH_IP, Place("United Kingdom", "GB")),
        ("::ffff:" + SWEDISH_IP, Place("Sweden", "SE")),  # a dual-stack listener's IPv4 client
        (JAPANESE_IPV6, Place("Japan", "JP")),
        (NOT_IN_FILE_IP, Place("Unknown")),
        ("2a00:1450::1", Place("Unknown")),
        ("testclient", Place("Unknown")),
        (None, Place("Unknown")),
    ],
)
def test_a_public_address_is_placed_in_its_country_from_the_file(lookup, ip, place):  # SEC-13
    assert lookup.locate(ip) == place


@pytest.mark.parametrize("ip", LOCAL)
def test_local_addresses_are_this_network_with_or_without_a_file(lookup, ip):  # WEB-2
    assert lookup.locate(ip) == Place("This network")
    assert CountryLookup().locate(ip) == Place("This network")


def test_without_a_file_every_public_address_is_unknown():  # WEB-2, SEC-13
    geo = CountryLookup.from_file(None)
    assert not geo.has_database
    assert geo.locate(SWEDISH_IP) == Place("Unknown")
    assert geo.locate(NOT_IN_FILE_IP) == Place("Unknown")


def test_a_missing_or_broken_file_stops_the_start_with_the_reason(tmp_path):  # SEC-13
    with pytest.raises(ValueError, match="PORTTI_GEOIP_DATABASE"):
        CountryLookup.from_file(tmp_path / "nowhere.mmdb")
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a MaxMind DB" * 10)
    with pytest.raises(ValueError, match="PORTTI_GEOIP_DATABASE"):
        CountryLookup.from_file(broken)
