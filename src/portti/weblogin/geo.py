"""Where the browser asking for a login roughly is, for the app's approval screen (WEB-2,
SEC-13).

The country comes from a local MaxMind DB file (GeoLite2-Country or -City, or any database of
that layout) named by ``PORTTI_GEOIP_DATABASE``: no outside service is asked, and nothing about
the person leaves the server. Without a file, and for an address the file does not hold, the
place is "Unknown"; loopback, private and link-local addresses are "This network".

A relayed login (a phishing page showing the real login page's QR code or typed code to its
victim) comes from the phisher's browser: its country is what the victim's app shows.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import maxminddb

from portti.people.countries import COUNTRY_NAMES

THIS_NETWORK = "This network"
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Place:
    """What the app shows: a country's name, "This network" or "Unknown"; and the ISO 3166-1
    alpha-2 code when a country was found."""

    label: str
    country_code: str | None = None


class GeoLookup(Protocol):
    """Where an IP address roughly is."""

    def locate(self, ip: str | None) -> Place: ...

    def close(self) -> None: ...


def _address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return None
    # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; the database files them
    # under their IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_loopback or address.is_private or address.is_link_local


def _country_of(record: object) -> Place | None:
    """The country of a GeoIP2 Country/City record: where the address is, else where its
    network is registered (anycast, satellite, some mobile networks)."""
    if not isinstance(record, Mapping):
        return None
    for key in ("country", "registered_country"):
        country = record.get(key)
        if not isinstance(country, Mapping):
            continue
        code = country.get("iso_code")
        names = country.get("names")
        name = COUNTRY_NAMES.get(code) if isinstance(code, str) else None
        if name is None and isinstance(names, Mapping) and isinstance(names.get("en"), str):
            name = names["en"]
        if name:
            return Place(str(name), code if isinstance(code, str) else None)
    return None


class CountryLookup:
    """The country of an address from a MaxMind DB file (or none: every public address is then
    "Unknown"). Reads are safe from several threads at once."""

    def __init__(self, reader: maxminddb.Reader | None = None) -> None:
        self._reader = reader

    @classmethod
    def from_file(cls, path: Path | None) -> CountryLookup:
        """Opens the database once (memory-mapped); a missing or broken file stops the start
        with the reason, rather than every approval saying "Unknown"."""
        if path is None:
            return cls()
        try:
            reader = maxminddb.open_database(str(path))
        except (OSError, maxminddb.InvalidDatabaseError) as exc:
            raise ValueError(f"PORTTI_GEOIP_DATABASE: cannot read {path}: {exc}") from exc
        return cls(reader)

    @property
    def has_database(self) -> bool:
        return self._reader is not None

    def locate(self, ip: str | None) -> Place:
        address = _address(ip)
        if address is None:
            return Place(UNKNOWN)
        if _local(address):
            return Place(THIS_NETWORK)
        if self._reader is None:
            return Place(UNKNOWN)
        try:
            record: Any = self._reader.get(address)
        except ValueError:  # an IPv6 address in an IPv4-only database
            return Place(UNKNOWN)
        return _country_of(record) or Place(UNKNOWN)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
