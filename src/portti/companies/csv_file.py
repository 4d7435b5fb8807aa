"""Files of users to add (PRV-4): reading an uploaded CSV into rows, and writing the template.

A file is UTF-8 (with or without the byte-order mark that Excel writes), its cells separated by
``;`` (Excel in Finnish and Swedish) or ``,``, whichever the header row uses more. The header row
names the columns, in Finnish, Swedish or English (the template's words) or by their codes
(``given_name``), in any order. Whatever a file gets wrong as a whole (not text, not UTF-8, a
missing or unknown column, too big, too many rows, a cell a spreadsheet would run as a formula)
refuses it with one readable message; what a row gets wrong is that row's business
(``companies/bulk.py``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from portti.errors import ValidationFailed
from portti.i18n import SUPPORTED, LazyText, _l, current_language, localize

MAX_FILE_BYTES: Final = 1024 * 1024
MAX_ROWS: Final = 5000

# (code, label): the label is the header the template writes, in the reader's language.
COLUMNS: Final[list[tuple[str, LazyText]]] = [
    ("given_name", _l("Given name")),
    ("family_name", _l("Family name")),
    ("id_value", _l("Identity number or code")),
    ("id_country", _l("Issuing country")),
    ("id_kind", _l("Kind of identifier")),
    ("portti_id", _l("Portti ID")),
    ("email", _l("E-mail")),
    ("phone", _l("Mobile phone")),
    ("roles", _l("Roles")),
    ("valid_from", _l("Valid from")),
    ("valid_until", _l("Valid until")),
]
REQUIRED: Final = frozenset({"given_name", "family_name", "id_value", "email", "phone", "roles"})
LABELS: Final = dict(COLUMNS)

# A cell a spreadsheet would run as a formula when the file is opened again (CSV injection):
# "=", "@", a tab or a carriage return first, or "+" / "-" before anything but a number such as
# a phone number (+358 40 123 4567) or a date.
_FORMULA_START: Final = re.compile(r"^[=@\t\r]")
_SIGNED: Final = re.compile(r"^[+-]")
_NUMBER_LIKE: Final = re.compile(r"^[+-][0-9 ()./-]*$")
_SPACES: Final = re.compile(r"\s+")


class QuotedNames(LazyText):
    """Names in quotation marks, as the reader's language writes them (“x” in English, ”x” in
    Finnish and Swedish), each translated when it is a message itself (a column's label)."""

    names: tuple[str, ...]

    def __new__(cls, names: Iterable[str]) -> QuotedNames:
        names = tuple(names)
        obj = super().__new__(cls, ", ".join(f"“{n}”" for n in names))
        obj.names = names
        return obj

    def translated(self, language: str | None = None) -> str:
        lang = language or current_language()
        left = "”" if lang in {"fi", "sv"} else "“"
        return ", ".join(
            f"{left}{localize(n, lang) if isinstance(n, LazyText) else n}”" for n in self.names
        )


class BadFile(ValidationFailed):
    """The whole file is refused: nothing in it is looked at further."""

    code = "bad_file"
    title = _l("The file cannot be read")

    def __init__(self, message: LazyText | str) -> None:
        super().__init__({"file": message})


@dataclass(frozen=True)
class FileRow:
    """One row of the file: its line number as a spreadsheet shows it, and its cells by code."""

    number: int
    cells: dict[str, str]


@dataclass(frozen=True)
class UsersFile:
    columns: list[str]
    rows: list[FileRow]


def _header_key(text: str) -> str:
    return _SPACES.sub(" ", text.strip().strip("*").strip()).casefold()


def _header_names() -> dict[str, str]:
    """Every header a column is known by: its code and its label in each language."""
    names = {}
    for code, label in COLUMNS:
        names[_header_key(code)] = code
        for language in SUPPORTED:
            names[_header_key(label.translated(language))] = code
    return names


def is_formula(cell: str) -> bool:
    return bool(_FORMULA_START.match(cell)) or (
        bool(_SIGNED.match(cell)) and not _NUMBER_LIKE.match(cell)
    )


def _decode(data: bytes) -> str:
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise BadFile(
            _l(
                "This is a spreadsheet workbook, not a CSV file. Save it as “CSV UTF-8” in "
                "your spreadsheet program and upload that."
            )
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BadFile(
            _l("The file is in UTF-16, not UTF-8. Save it as “CSV UTF-8” and upload it again.")
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile(
            _l(
                "The file is not in UTF-8 (it may be in Windows-1252 or another encoding). "
                "Save it as “CSV UTF-8” and upload it again."
            )
        ) from exc
    if "\x00" in text:
        raise BadFile(_l("This is not a CSV file: it holds binary data."))
    return text


def read_users_file(data: bytes) -> UsersFile:
    """The file's rows, or :class:`BadFile` with the reason in the reader's language."""
    if not data.strip():
        raise BadFile(_l("The file is empty."))
    if len(data) > MAX_FILE_BYTES:
        raise BadFile(
            _l(
                "The file is too big: at most %(size)s MB. Split it into smaller files.",
                size=MAX_FILE_BYTES // (1024 * 1024),
            )
        )
    text = _decode(data)
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise BadFile(
            _l("This is not a CSV file that can be read (line %(line)s).", line=reader.line_num)
        ) from exc
    numbered = [(n, r) for n, r in enumerate(records, start=1) if any(c.strip() for c in r)]
    if not numbered:
        raise BadFile(_l("The file is empty."))
    _, header = numbered[0]
    known = _header_names()
    columns: list[str] = []
    unknown: list[str] = []
    for cell in header:
        code = known.get(_header_key(cell))
        if code is None:
            if cell.strip():
                unknown.append(cell.strip())
            columns.append("")
        elif code in columns:
            raise BadFile(_l("The column “%(column)s” appears twice.", column=cell.strip()))
        else:
            columns.append(code)
    if unknown:
        raise BadFile(
            _l(
                "The header row has columns that are not known: %(columns)s. Use the headers of "
                "the template.",
                columns=QuotedNames(unknown),
            )
        )
    missing = [code for code, _ in COLUMNS if code in REQUIRED and code not in columns]
    if missing:
        raise BadFile(
            _l(
                "The header row lacks these columns: %(columns)s. Use the headers of the template.",
                columns=QuotedNames(LABELS[c] for c in missing),
            )
        )
    body = numbered[1:]
    if not body:
        raise BadFile(_l("The file has a header row but no users."))
    if len(body) > MAX_ROWS:
        raise BadFile(
            _l(
                "The file has %(count)s rows; at most %(max)s users can be added from one file. "
                "Split it into smaller files.",
                count=len(body),
                max=MAX_ROWS,
            )
        )
    rows = []
    for number, record in body:
        cells: dict[str, str] = {}
        for index, cell in enumerate(record):
            value = cell.strip()
            if not value:
                continue
            code = columns[index] if index < len(columns) else ""
            if is_formula(value):
                raise BadFile(
                    _l(
                        "Row %(row)s has a cell that a spreadsheet would run as a formula "
                        "(“%(cell)s”). Remove the formula or the character at its start and "
                        "upload the file again.",
                        row=number,
                        cell=value[:40],
                    )
                )
            if not code:
                raise BadFile(
                    _l(
                        "Row %(row)s has more cells than the header row has columns.",
                        row=number,
                    )
                )
            cells[code] = value
        rows.append(FileRow(number, cells))
    return UsersFile(columns=[c for c in columns if c], rows=rows)


EXAMPLE_ID = ("811228-9874", "SE")


def template_csv(role_names: Iterable[str], language: str) -> str:
    """The template: the header row in ``language`` and one example row whose roles cell
    lists every role the admin may give. With a byte-order mark so that Excel reads UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([label.translated(language) for _, label in COLUMNS])
    # A person who needs the app (no Finnish identity code): a Swedish personal identity number
    # that passes its check digit, with its country. A Finnish one would log in with bank ID.
    example = {
        "given_name": "Anna",
        "family_name": "Svensson",
        "id_value": EXAMPLE_ID[0],
        "id_country": EXAMPLE_ID[1],
        "email": "anna.svensson@example.com",
        "phone": "+46 70 123 45 67",
        "roles": ", ".join(role_names),
    }
    writer.writerow([example.get(code, "") for code, _ in COLUMNS])
    return "\ufeff" + out.getvalue()
