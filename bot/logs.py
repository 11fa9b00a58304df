"""Logging for the server: plain text or one JSON object per line (SIGNPOST_LOG_FORMAT).

Privacy first: nothing here ever logs a request body, a query string or a header. As a
second line of defence, exceptions are written with their type and stack frames only,
never their message (an exception message can quote what someone typed).
"""

from __future__ import annotations

import json
import logging
import logging.config
import time
import traceback
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Structured fields a log call may attach with `extra={"fields": {...}}`; nothing else is kept.
ALLOWED_FIELDS = frozenset({"method", "route", "status", "ms", "error", "backend"})


def _exception_without_message(exc_info: Any) -> str:
    etype, _value, tb = exc_info
    frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
    name = getattr(etype, "__qualname__", str(etype))
    return f"Traceback (most recent call last):\n{frames}{name} (message withheld)"


class RedactingFormatter(logging.Formatter):
    """The standard text format, but exceptions show type and frames only."""

    def formatException(self, ei: Any) -> str:
        return _exception_without_message(ei)


class JsonFormatter(RedactingFormatter):
    """One JSON object per line: ts, level, logger, message and allow-listed fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update({k: v for k, v in fields.items() if k in ALLOWED_FIELDS})
        if record.exc_info:
            out["exc_type"] = getattr(record.exc_info[0], "__qualname__", "Exception")
            out["stack"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


# Warnings uvicorn writes once per bad request or refused connection: a flood under attack.
_FLOOD_MESSAGES = ("Invalid HTTP request received.", "Exceeded concurrency limit.")


class RepeatFilter(logging.Filter):
    """Errors from dropped or refused connections, logged once per kind, not per event.

    A client dropping connections, or a thousand slow ones filling the open-file limit, made
    asyncio and uvicorn write a traceback per event (322,788 in 20 s in one test). The first
    of each kind (exception type and errno, or one of uvicorn's per-request warnings) is
    written as one line without the traceback; the rest within `window` seconds are only
    counted, and the count is given with the next one written.
    """

    def __init__(self, window: float = 60.0) -> None:
        super().__init__()
        self.window = window
        self._seen: dict[str, list[float]] = {}  # kind -> [when last written, held back]

    @staticmethod
    def kind(record: logging.LogRecord) -> str | None:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, OSError):
            return f"{type(exc).__name__}/{exc.errno}"
        if record.levelno == logging.WARNING and record.msg in _FLOOD_MESSAGES:
            return str(record.msg)
        return None

    def filter(self, record: logging.LogRecord) -> bool:
        kind = self.kind(record)
        if kind is None:
            return True
        now = time.monotonic()
        seen = self._seen.get(kind)
        if seen is not None and now - seen[0] < self.window:
            seen[1] += 1
            return False
        held = int(seen[1]) if seen else 0
        self._seen[kind] = [now, 0]
        what = "" if kind == record.msg else f"{kind}; "
        note = f" ({what}more like it in the next {self.window:g} s are counted, not logged"
        note += f"; {held} held back since the last)" if held else ")"
        record.msg, record.args = record.getMessage().rstrip() + note, ()
        record.exc_info, record.exc_text = None, None  # one line: no traceback
        return True


def logging_config(fmt: str = "text", level: str = "info") -> dict[str, Any]:
    """A dictConfig for our loggers and uvicorn's (uvicorn applies it in every worker)."""
    lvl = level.upper()
    formatter = (
        {"()": "bot.logs.JsonFormatter"}
        if fmt == "json"
        else {"()": "bot.logs.RedactingFormatter", "fmt": TEXT_FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "main",
        "stream": "ext://sys.stderr",
        "filters": ["repeats"],
    }
    quiet = {"handlers": ["default"], "level": lvl, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "filters": {"repeats": {"()": "bot.logs.RepeatFilter"}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": lvl},
        "loggers": {
            "signpost": quiet,
            "uvicorn": quiet,
            "uvicorn.error": {"level": lvl, "propagate": True},
            # uvicorn's own access log is switched off (ours has no query strings); if anyone
            # switches it back on it still goes nowhere.
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }
