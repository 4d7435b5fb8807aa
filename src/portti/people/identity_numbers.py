"""National identity numbers and other identifying codes (ADM-4).

This module owns the country → validator table, the rules that turn what an admin typed into the
value stored in ``person_identifiers`` (so that one person's number always normalises to the same
string and the unique constraint can do its job), and the wording of the errors.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from types import ModuleType
from typing import Literal

from stdnum import exceptions as stdnum_errors
from stdnum.ar import dni as ar_dni
from stdnum.at import vnr as at_vnr
from stdnum.be import bis as be_bis
from stdnum.be import nn as be_nn
from stdnum.bg import egn as bg_egn
from stdnum.bg import pnf as bg_pnf
from stdnum.br import cpf as br_cpf
from stdnum.ca import sin as ca_sin
from stdnum.ch import ssn as ch_ssn
from stdnum.cl import rut as cl_rut
from stdnum.cn import ric as cn_ric
from stdnum.cr import cpf as cr_cpf
from stdnum.cr import cr as cr_cr
from stdnum.cu import ni as cu_ni
from stdnum.cz import rc as cz_rc
from stdnum.de import idnr as de_idnr
from stdnum.dk import cpr as dk_cpr
from stdnum.do import cedula as do_cedula
from stdnum.ec import ci as ec_ci
from stdnum.ee import ik as ee_ik
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.fi import hetu as fi_hetu
from stdnum.fr import nir as fr_nir
from stdnum.gr import amka as gr_amka
from stdnum.hr import oib as hr_oib
from stdnum.id import nik as id_nik
from stdnum.ie import pps as ie_pps
from stdnum.il import idnr as il_idnr
from stdnum.in_ import aadhaar as in_aadhaar
from stdnum.is_ import kennitala as is_kennitala
from stdnum.it import codicefiscale as it_codicefiscale
from stdnum.jp import in_ as jp_in
from stdnum.kr import rrn as kr_rrn
from stdnum.lt import asmens as lt_asmens
from stdnum.lv import pvn as lv_pvn
from stdnum.mu import nid as mu_nid
from stdnum.mx import curp as mx_curp
from stdnum.my import nric as my_nric
from stdnum.nl import bsn as nl_bsn
from stdnum.no import fodselsnummer as no_fodselsnummer
from stdnum.pe import cui as pe_cui
from stdnum.pk import cnic as pk_cnic
from stdnum.pl import pesel as pl_pesel
from stdnum.ro import cnp as ro_cnp
from stdnum.se import personnummer as se_personnummer
from stdnum.si import emso as si_emso
from stdnum.sk import rc as sk_rc
from stdnum.th import pin as th_pin
from stdnum.tr import tckimlik as tr_tckimlik
from stdnum.ua import rntrc as ua_rntrc
from stdnum.us import ssn as us_ssn
from stdnum.za import idnr as za_idnr

from portti.i18n import CountryText, _l
from portti.people.countries import COUNTRY_CODES

MAX_IDENTIFIER_LENGTH = 64  # person_identifiers.value is String(64)

# Every country for which python-stdnum validates the number that identifies a *person* for life:
# national ID / population-register / citizen numbers, and where a country has none of those, the
# personal number everybody is issued (social insurance or personal tax number). Left out on
# purpose: numbers of documents (BE eid, NL identiteitskaartnummer, PT cc — its letters change
# with every new card, so one person would get several values), tax or VAT numbers shared with
# companies (AU tfn, NZ ird, KE pin, RU inn, CO nit, IN pan, MX rfc, AR cuit, LI peid …), numbers
# that are not identities (GB nhs/upn/utr: the UK has no personal identity number), revocable or
# secondary numbers (IN vid, US itin, FI veronumero) and provincial ones (CA bc_phn).
# A foreign code a country issues besides these is entered as an OTHER_CODE, accepted as given.
NATIONAL_ID_MODULES: dict[str, ModuleType | tuple[ModuleType, ...]] = {
    "AR": ar_dni,
    # Austria has no general personal number shown to people (the bPK is sector-specific and
    # hidden); the social insurance number is the one Austrians know and quote.
    "AT": at_vnr,
    "BE": (be_nn, be_bis),  # BIS numbers go to people not in the national register
    "BG": (bg_egn, bg_pnf),  # PNF/ЛНЧ is the foreigners' personal number
    "BR": br_cpf,
    "CA": ca_sin,  # Canada has no national ID number; the SIN is the personal federal number
    "CH": ch_ssn,  # AHV/AVS number, the Swiss de facto personal number since 2008
    "CL": cl_rut,  # for a person the RUT is the RUN of the identity card
    "CN": cn_ric,
    "CR": (cr_cpf, cr_cr),  # citizens' cédula, residents' DIMEX/cédula de residencia
    "CU": cu_ni,
    "CZ": cz_rc,
    # Germany has no general personal number; the Steuer-IdNr is given to every resident at birth
    # or registration, belongs to a person only and never changes, so it identifies a person.
    "DE": de_idnr,
    "DK": dk_cpr,
    "DO": do_cedula,
    "EC": ec_ci,
    "EE": ee_ik,
    "ES": (es_dni, es_nie),  # citizens' DNI, foreigners' NIE
    "FI": fi_hetu,
    "FR": fr_nir,
    "GR": gr_amka,  # AMKA: every resident's social security number; AFM also covers companies
    "HR": hr_oib,
    "ID": id_nik,
    "IE": ie_pps,
    "IL": il_idnr,
    "IN": in_aadhaar,
    "IS": is_kennitala,
    "IT": it_codicefiscale,
    "JP": jp_in,  # My Number (kojin bangō)
    "KR": kr_rrn,
    "LT": lt_asmens,
    # stdnum has no module for the personas kods alone; the PVN module validates personal codes
    # (and companies' numbers, refused below).
    "LV": lv_pvn,
    "MU": mu_nid,
    "MX": mx_curp,
    "MY": my_nric,
    "NL": nl_bsn,
    "NO": no_fodselsnummer,
    "PE": pe_cui,
    "PK": pk_cnic,
    "PL": pl_pesel,
    "RO": ro_cnp,
    "SE": se_personnummer,  # also accepts samordningsnummer (day + 60)
    "SI": si_emso,
    "SK": sk_rc,
    "TH": th_pin,
    "TR": tr_tckimlik,
    "UA": ua_rntrc,  # РНОКПП, the "identification code" Ukrainians are asked for
    "US": us_ssn,
    "ZA": za_idnr,
}

_ADJECTIVES: dict[str, str] = {
    "AR": "Argentine",
    "AT": "Austrian",
    "BE": "Belgian",
    "BG": "Bulgarian",
    "BR": "Brazilian",
    "CA": "Canadian",
    "CH": "Swiss",
    "CL": "Chilean",
    "CN": "Chinese",
    "CR": "Costa Rican",
    "CU": "Cuban",
    "CZ": "Czech",
    "DE": "German",
    "DK": "Danish",
    "DO": "Dominican",
    "EC": "Ecuadorian",
    "EE": "Estonian",
    "ES": "Spanish",
    "FI": "Finnish",
    "FR": "French",
    "GR": "Greek",
    "HR": "Croatian",
    "ID": "Indonesian",
    "IE": "Irish",
    "IL": "Israeli",
    "IN": "Indian",
    "IS": "Icelandic",
    "IT": "Italian",
    "JP": "Japanese",
    "KR": "South Korean",
    "LT": "Lithuanian",
    "LV": "Latvian",
    "MU": "Mauritian",
    "MX": "Mexican",
    "MY": "Malaysian",
    "NL": "Dutch",
    "NO": "Norwegian",
    "PE": "Peruvian",
    "PK": "Pakistani",
    "PL": "Polish",
    "RO": "Romanian",
    "SE": "Swedish",
    "SI": "Slovenian",
    "SK": "Slovak",
    "TH": "Thai",
    "TR": "Turkish",
    "UA": "Ukrainian",
    "US": "US",
    "ZA": "South African",
}

# Some modules also accept organisations' numbers from the same number space; a person's
# identifier must not be one of those.
_IS_ORGANISATION_NUMBER: dict[str, Callable[[str], bool]] = {
    "IS": lambda value: int(value[:2]) >= 40,  # companies' kennitala add 40 to the day
    "LV": lambda value: value[0] > "3",
    # 11 digits: a company's codice fiscale (or a rare provisional one, enter it as another code)
    "IT": lambda value: len(value) == 11,
}

_HETU_NAME = "Finnish personal identity code"
_HETU_CHECK_CHARACTERS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_HETU_CENTURY_SIGNS = {18: "+", 19: "-", 20: "A"}


class IdentifierKind(StrEnum):
    FI_HETU = "fi_hetu"
    PERSONAL_NUMBER = "personal_number"
    OTHER_CODE = "other_code"


class InvalidIdentifier(ValueError):
    """An identifier or its country that cannot be accepted; ``field`` says which one."""

    def __init__(self, field: Literal["value", "country"], message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


def normalise_identifier(kind: IdentifierKind, value: str, country: str | None) -> tuple[str, str]:
    """Return ``(country, value)`` as stored, or raise :class:`InvalidIdentifier`.

    A Finnish code is always issued by FI. A personal number is validated and compacted when
    python-stdnum knows the country's number, otherwise accepted as given (upper case). Other
    codes such as a date of birth are accepted as given.
    """
    kind = IdentifierKind(kind)
    if kind is IdentifierKind.FI_HETU:
        return "FI", _validate_national_number("FI", value)
    country_code = _normalise_country(country)
    if kind is IdentifierKind.PERSONAL_NUMBER:
        if country_code in NATIONAL_ID_MODULES:
            return country_code, _validate_national_number(country_code, value)
        return country_code, _free_form(value).upper()
    return country_code, _free_form(value)


def country_has_validator(country: str) -> bool:
    """Whether personal numbers from *country* are checked, not just accepted."""
    return country.strip().upper() in NATIONAL_ID_MODULES


def number_name(country: str) -> str:
    """English name of *country*'s personal identity number, for labels and messages."""
    if country == "FI":
        return _HETU_NAME
    adjective = _ADJECTIVES.get(country)
    return f"{adjective} personal identity number" if adjective else "personal identity number"


def describe(kind: IdentifierKind, country: str, value: str) -> str:
    """One line for display, e.g. ``Swedish personal number 19811218-9876 (SE)``."""
    kind = IdentifierKind(kind)
    if kind is IdentifierKind.FI_HETU:
        label = _HETU_NAME
    elif kind is IdentifierKind.PERSONAL_NUMBER:
        adjective = _ADJECTIVES.get(country)
        label = f"{adjective} personal number" if adjective else "Personal number"
    else:
        label = "Other identifier"
    return f"{label} {value} ({country})"


def make_hetu(day: date, individual: int) -> str:
    """A valid HETU for *day* (1800–2099) and *individual* number.

    002–899 are ordinary individual numbers; 900–999 are temporary/test numbers, which is what
    demo data and tests should use.
    """
    if not 2 <= individual <= 999:
        raise ValueError("The individual number of a HETU is 002–999.")
    sign = _HETU_CENTURY_SIGNS.get(day.year // 100)
    if sign is None:
        raise ValueError("A HETU can only be made for dates from 1800 to 2099.")
    digits = f"{day:%d%m}{day.year % 100:02d}{individual:03d}"
    check = _HETU_CHECK_CHARACTERS[int(digits) % 31]
    return f"{digits[:6]}{sign}{digits[6:]}{check}"


def _modules_for(country: str) -> tuple[ModuleType, ...]:
    modules = NATIONAL_ID_MODULES[country]
    return modules if isinstance(modules, tuple) else (modules,)


def _validate_national_number(country: str, value: str) -> str:
    # National numbers never contain meaningful spaces; people paste them grouped ("123 45 6789").
    text = "".join(unicodedata.normalize("NFKC", value).split()).upper()
    if not text:
        raise InvalidIdentifier("value", _l("Enter the %(name)s.", name=_number_text(country)))
    failures: list[stdnum_errors.ValidationError] = []
    for module in _modules_for(country):
        try:
            if module is fi_hetu:
                # 900–999 are temporary numbers; demo data and test persons are given those.
                fi_hetu.validate(text, allow_temporary=True)
            else:
                module.validate(text)
        except stdnum_errors.ValidationError as error:
            failures.append(error)
            continue
        compact = str(module.compact(text)).upper()
        is_organisation = _IS_ORGANISATION_NUMBER.get(country)
        if is_organisation is not None and is_organisation(compact):
            raise InvalidIdentifier(
                "value", _l("This number belongs to an organisation, not a person.")
            )
        return _canonical_form(country, module, compact)
    raise InvalidIdentifier("value", _message_for(country, failures))


def _canonical_form(country: str, module: ModuleType, compact: str) -> str:
    """One stored form per person: a Swedish number written with 10 or 12 digits is the same
    number, so it is kept with the full year (YYYYMMDDNNNN) and persons are not duplicated."""
    if country == "SE":
        born = module.get_birth_date(compact)
        digits = compact.replace("-", "").replace("+", "")[-10:]
        return f"{born.year // 100:02d}{digits}"
    return compact


def _number_text(country: str) -> CountryText:
    return CountryText(number_name(country), country=country)


def _message_for(country: str, failures: list[stdnum_errors.ValidationError]) -> str:
    # With several modules (ES DNI/NIE), the one that got furthest explains best what is wrong:
    # a wrong check character means the format was right for that kind of number.
    def depth(error: stdnum_errors.ValidationError) -> int:
        if isinstance(error, stdnum_errors.InvalidChecksum | stdnum_errors.InvalidComponent):
            return 2
        if isinstance(error, stdnum_errors.InvalidLength):
            return 1
        return 0

    error = max(failures, key=depth)  # max keeps the first of equals: the table's order
    name = _number_text(country)
    if isinstance(error, stdnum_errors.InvalidChecksum):
        return _l("The %(name)s has a wrong check character.", name=name)
    if isinstance(error, stdnum_errors.InvalidComponent):
        return _l(
            "The %(name)s has an impossible date of birth or another impossible part.", name=name
        )
    if isinstance(error, stdnum_errors.InvalidLength):
        return _l("The %(name)s has the wrong number of characters.", name=name)
    if isinstance(error, stdnum_errors.InvalidFormat):
        return _l("The %(name)s is not in the right format.", name=name)
    return _l("This is not a valid %(name)s.", name=name)


def _normalise_country(country: str | None) -> str:
    code = (country or "").strip().upper()
    if not code:
        raise InvalidIdentifier("country", _l("Choose the country that issued the identifier."))
    if code not in COUNTRY_CODES:
        raise InvalidIdentifier("country", _l("Unknown country code %(code)s.", code=repr(code)))
    return code


def _free_form(value: str) -> str:
    # NFKC so that full-width digits and the like cannot make a second, look-alike value.
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    if not text:
        raise InvalidIdentifier("value", _l("Enter the identifier."))
    if len(text) > MAX_IDENTIFIER_LENGTH:
        raise InvalidIdentifier(
            "value",
            _l(
                "The identifier can be at most %(max)s characters long.",
                max=MAX_IDENTIFIER_LENGTH,
            ),
        )
    if not text.isprintable():
        raise InvalidIdentifier(
            "value", _l("The identifier contains characters that cannot be shown.")
        )
    return text
