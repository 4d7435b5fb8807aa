"""What the buttons that start a login or a step-up at an identity provider say (UX-18).

A provider's name cannot be dropped into "Log in with %(method)s": Finnish inflects it
("Kirjaudu suomalaisilla pankkitunnuksilla") and Swedish writes it in lower case mid-sentence
("Logga in med finska bankkoder"). The built-in providers' buttons are whole sentences; a
provider configured under another name gets the general sentence with its name as given.
"""

from __future__ import annotations

from portti.i18n import LazyText, _l

_LOGIN: dict[str, LazyText] = {
    "Finnish bank ID or mobile certificate": _l(
        "Log in with Finnish bank ID or mobile certificate"
    ),
    "Estonian ID card": _l("Log in with an Estonian ID card"),
    "Norwegian ID card": _l("Log in with a Norwegian ID card"),
    "Swedish ID card": _l("Log in with a Swedish ID card"),
}
_STEP_UP: dict[str, LazyText] = {
    "Finnish bank ID or mobile certificate": _l(
        "Authenticate with Finnish bank ID or mobile certificate"
    ),
    "Estonian ID card": _l("Authenticate with an Estonian ID card"),
    "Norwegian ID card": _l("Authenticate with a Norwegian ID card"),
    "Swedish ID card": _l("Authenticate with a Swedish ID card"),
}


def login_button(label: str) -> LazyText:
    """ "Log in with …" for the provider called ``label`` (its English name)."""
    return _LOGIN.get(str.__str__(label)) or _l("Log in with %(method)s", method=label)


def step_up_button(label: str) -> LazyText:
    """ "Authenticate with …" for the provider called ``label`` (its English name)."""
    return _STEP_UP.get(str.__str__(label)) or _l("Authenticate with %(method)s", method=label)
