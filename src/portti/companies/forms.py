"""Reading the HTML forms of Users and roles into the same inputs the JSON API takes."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.datastructures import FormData

from portti.errors import ValidationFailed
from portti.i18n import _l

M = TypeVar("M", bound=BaseModel)

LIST_FIELDS = {"roles", "profiles"}
BOOL_FIELDS = {"already_user", "receives_email"}
MESSAGES = {
    "date_from_datetime_parsing": _l("Give a date like 2026-12-31."),
    "date_parsing": _l("Give a date like 2026-12-31."),
    "date_from_datetime_inexact": _l("Give a date like 2026-12-31."),
    "enum": _l("Choose one of the options."),
    "int_parsing": _l("Choose from the list."),
    "string_too_long": _l("This is too long."),
    "missing": _l("Required."),
}


def parse_form(model: type[M], form: FormData, fields: set[str]) -> M:
    data: dict[str, Any] = {}
    for name in fields:
        if name in LIST_FIELDS:
            data[name] = [v for v in form.getlist(name) if isinstance(v, str) and v]
        elif name in BOOL_FIELDS:
            data[name] = form.get(name) in {"yes", "on", "true", "1"}
        else:
            value = form.get(name)
            if isinstance(value, str) and value.strip():
                data[name] = value.strip()
            elif isinstance(value, str) and model.model_fields[name].annotation is str:
                # A blank required text goes on to the service, which checks it together with
                # the other fields: every mistake is reported at once, as the JSON API does.
                data[name] = ""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        errors: dict[str, str] = {}
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else "form"
            errors.setdefault(field, MESSAGES.get(e["type"], e["msg"]))
        raise ValidationFailed(errors) from exc
