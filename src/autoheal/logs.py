"""Log output: one line per message, as text or JSON, with an event record's fields attached."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
EVENT_ATTR = "autoheal_event"  # set through `extra=` by the event log: the record's fields


def _event(record: logging.LogRecord) -> dict[str, Any] | None:
    return getattr(record, EVENT_ATTR, None)


class TextFormatter(logging.Formatter):
    """Human-readable; an event's fields follow the message as key=value pairs."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        event = _event(record)
        if event:
            pairs = []
            for key, value in event.items():
                if key in ("reason", "time") or value in ("", None):
                    continue
                text = str(value)
                pairs.append(f"{key}={json.dumps(text) if (' ' in text or not text) else text}")
            line += " | " + " ".join(pairs)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, and an event's fields at top level."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event = _event(record)
        if event:
            out.update(event)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(level: str = "info", fmt: str = "text") -> None:
    """Route every logger (uvicorn's too) through one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's loggers may carry handlers of their own (its default configuration): hand them to root.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
