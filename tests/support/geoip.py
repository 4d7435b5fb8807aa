"""Small GeoIP databases for tests: MaxMind DB files in the GeoLite2-Country layout, written
with ``mmdb-writer`` (``maxminddb`` only reads), holding the networks a test names.

The addresses are from MaxMind's own test databases (public addresses: Python counts the
documentation ranges such as 203.0.113.0/24 as private, which the lookup calls "This network").
"""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

from portti.people.countries import COUNTRY_NAMES

# A public address in Sweden and one in the United Kingdom; one that no test file holds.
SWEDISH_IP = "89.160.20.112"
BRITISH_IP = "81.2.69.160"
JAPANESE_IPV6 = "2001:218::1"
NOT_IN_FILE_IP = "193.166.3.2"

TEST_NETWORKS = {
    "89.160.20.112/28": "SE",
    "81.2.69.160/27": "GB",
    "2001:218::/32": "JP",
}


def write_country_database(path: Path, networks: dict[str, str] | None = None) -> Path:
    """A GeoLite2-Country-like file: each network (CIDR) to its country's ISO code and names."""
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-Country",
        languages=["en"],
        description={"en": "Portti test data"},
    )
    for network, code in (networks or TEST_NETWORKS).items():
        writer.insert_network(
            IPSet([network]),
            {"country": {"iso_code": code, "names": {"en": COUNTRY_NAMES[code]}}},
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    writer.to_db_file(str(path))
    return path
