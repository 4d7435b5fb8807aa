"""structlog for operators (OPS-12). Never given a secret: services log ids and outcomes only.

Every record, Portti's own and those of the libraries (uvicorn, SQLAlchemy, httpx …), goes
through one handler on the root logger: key=value lines, or one JSON object a line with
``PORTTI_LOG_FORMAT=json``; a traceback is part of its record (one JSON line), not lines of its
own. The request's id (``X-Request-ID``) is on every line written while the request runs.

SEC-29: no credential, token or query string of an outgoing request reaches a log. httpx writes
each request's whole URL at INFO (``HTTP Request: POST http://user:pass@host/sms?api_key=…``):
its loggers are kept at WARNING, and every line is passed through ``redact_urls`` before it is
written, so a URL in an exception's message or traceback loses its user, password and query too.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor

# scheme://[user[:password]@]host[/path][?query][#fragment]; the path is kept, as operators
# need to know which endpoint failed, but what follows ? or # is dropped.
_URL = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^\s/@'\"<>]*@)?"
    r"(?P<rest>[^\s?#'\"<>]*)(?P<tail>[?#][^\s'\"<>]*)?"
)
# Libraries whose own INFO/DEBUG lines carry whole URLs and headers, and alembic's plugin
# registration (a line each at every start: the readiness check reads the migrations' head).
_QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "alembic.runtime.plugins")
_HANDLER_MARK = "_portti_handler"


def _clean(match: re.Match[str]) -> str:
    userinfo = "***@" if match.group("userinfo") else ""
    tail = "?…" if match.group("tail") else ""
    return f"{match.group('scheme')}{userinfo}{match.group('rest')}{tail}"


def redact_urls(text: str) -> str:
    """``text`` with every URL's user, password, query and fragment taken out."""
    if "://" not in text:
        return text
    return _URL.sub(_clean, text)


def _redact(_logger: Any, _name: str, event_dict: EventDict) -> EventDict:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact_urls(value)
    return event_dict


def _drop_color_message(_logger: Any, _name: str, event_dict: EventDict) -> EventDict:
    # uvicorn adds a copy of its message with terminal colours.
    event_dict.pop("color_message", None)
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """One handler on the root logger, replacing the one an earlier call installed."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_color_message,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.processors.KeyValueRenderer(
            key_order=["timestamp", "level", "event"], drop_missing=True
        )
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    server_errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _LoggedAlready) for f in server_errors.filters):
        server_errors.addFilter(_LoggedAlready())


class _LoggedAlready(logging.Filter):
    """uvicorn logs an exception that escaped the application a second time, without the
    request's id: ``web/access.py`` logged it already, with it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Exception in ASGI application")


def portti_handler() -> logging.Handler | None:
    """The handler ``configure_logging`` installed (tests write its output elsewhere too)."""
    for h in logging.getLogger().handlers:
        if getattr(h, _HANDLER_MARK, False):
            return h
    return None
