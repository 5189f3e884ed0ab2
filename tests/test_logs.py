"""Log output: text and JSON lines, with an event record's fields attached."""

from __future__ import annotations

import json
import logging

from autoheal.domain.records import Record
from autoheal.engine.records import EventLog
from autoheal.logs import EVENT_ATTR, JsonFormatter, TextFormatter, configure

RECORD = Record(1_700_000_000.0, "restart", "restarted (crash, exit 3)", "a" * 64, "web-1", "crash", 3, 2)


def log_record(message: str = "web-1: restart: restarted (crash, exit 3)", event=RECORD) -> logging.LogRecord:
    record = logging.LogRecord("autoheal.events", logging.INFO, __file__, 1, message, (), None)
    if event is not None:
        setattr(record, EVENT_ATTR, event.as_dict())
    return record


def test_json_lines_carry_the_event_record_fields():
    line = json.loads(JsonFormatter().format(log_record()))
    assert line["level"] == "info" and line["logger"] == "autoheal.events"
    assert line["message"] == "web-1: restart: restarted (crash, exit 3)"
    for key, value in RECORD.as_dict().items():
        assert line[key] == value


def test_json_lines_without_an_event_are_plain():
    line = json.loads(JsonFormatter().format(log_record("autoheal starting", event=None)))
    assert set(line) == {"ts", "level", "logger", "message"}


def test_text_lines_append_the_fields_as_pairs():
    line = TextFormatter().format(log_record())
    assert line.endswith(
        f"web-1: restart: restarted (crash, exit 3) | kind=restart container_id={'a' * 64} "
        "container_name=web-1 cause=crash exit_code=3 attempt=2"
    )


def test_every_event_record_is_logged_once_with_its_fields(caplog):
    with caplog.at_level(logging.INFO, logger="autoheal.events"):
        EventLog().add(RECORD)
    [logged] = caplog.records
    assert getattr(logged, EVENT_ATTR) == RECORD.as_dict()


def test_configure_routes_everything_through_one_formatter(capsys):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.addHandler(logging.StreamHandler())  # as uvicorn's own default configuration leaves it
    uvicorn_error.propagate = False
    try:
        configure("warning", "json")
        logging.getLogger("uvicorn.error").warning("port in use")
        logging.getLogger("autoheal").info("not shown at warning")
        lines = capsys.readouterr().err.strip().splitlines()
        assert [json.loads(line)["message"] for line in lines] == ["port in use"]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
