"""Files of users for "Add users from a file" (PRV-4): valid identifiers on demand, files in any
language and separator, and the upload → preview → confirm round trip as a browser posts it."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Sequence
from datetime import date

from fastapi.testclient import TestClient
from httpx import Response
from stdnum.ee import ik

from support.web import csrf_from

HEADER = [
    "given_name",
    "family_name",
    "id_value",
    "id_country",
    "portti_id",
    "email",
    "phone",
    "roles",
    "valid_from",
    "valid_until",
]
SEALED_RE = re.compile(r'name="upload" value="([^"]+)"')
_seq = itertools.count(1)


def estonian_code() -> str:
    """A valid Estonian personal identification code no other test uses."""
    n = next(_seq)
    born = date(1960 + n % 40, 1 + n % 12, 1 + n % 28)
    base = f"{3 + n % 2}{born:%y%m%d}{n % 1000:03d}"
    return base + ik.calc_check_digit(base + "0")  # it reads all but the last digit


def row(**cells: str) -> dict[str, str]:
    n = next(_seq)
    data = {
        "given_name": "Liisa",
        "family_name": f"Rivi{n}",
        "id_value": estonian_code(),
        "id_country": "EE",
        "email": f"liisa.rivi{n}@example.com",
        "phone": "+372 5123 4567",
        "roles": "bookkeeper",
    }
    data.update(cells)
    return data


def csv_text(
    rows: Sequence[dict[str, str]], *, sep: str = ";", header: list[str] | None = None
) -> str:
    columns = header or HEADER
    lines = [sep.join(columns)]
    for r in rows:
        lines.append(sep.join(_quoted(r.get(c, ""), sep) for c in columns))
    return "\r\n".join(lines) + "\r\n"


def _quoted(cell: str, sep: str) -> str:
    if sep in cell or '"' in cell or "\n" in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


def upload(
    client: TestClient,
    company_id: int,
    data: bytes | str,
    *,
    name: str = "users.csv",
    headers: dict[str, str] | None = None,
) -> Response:
    page = client.get(f"/c/{company_id}/users/import", headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    raw = data.encode() if isinstance(data, str) else data
    return client.post(
        f"/c/{company_id}/users/import",
        files={"file": (name, raw, "text/csv")},
        data={"csrf_token": csrf_from(page)},
        headers={"accept": "text/html", **(headers or {})},
    )


def sealed_of(preview: Response) -> str:
    m = SEALED_RE.search(preview.text)
    assert m, "no 'Add N users' form on the preview"
    return html.unescape(m.group(1))


def confirm(
    client: TestClient, company_id: int, preview: Response, sealed: str | None = None
) -> Response:
    return client.post(
        f"/c/{company_id}/users/import/confirm",
        data={"csrf_token": csrf_from(preview), "upload": sealed or sealed_of(preview)},
        headers={"accept": "text/html"},
    )
