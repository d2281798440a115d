"""The process's logs: one JSON object per line, each with timestamp, level, logger and message.

Fields passed with ``extra=`` become fields of the object (the request log's method, path,
status...); an exception becomes its ``exc_info`` field, one line like the rest. ``serve`` hands
``logging_config`` to uvicorn, so its own loggers (start-up, errors) write the same lines, in
every worker process too.

The formatter is ours, on orjson: it runs once per request (the request log), and
python-json-logger's took 9 µs a line where this one takes 2 (docs/PERFORMANCE.md, "Serving").
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

import orjson

# A LogRecord's own attributes: everything else on a record came from ``extra=`` and is a field.
# uvicorn adds its message again with terminal colour codes (color_message): no use in a log.
NOT_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "color_message", "taskName"}
)


class JsonLineFormatter(logging.Formatter):
    """``{"timestamp", "level", "logger", "message", <extra fields>..., "exc_info"?}`` on one
    line. The timestamp is ISO 8601 in UTC from the record's creation time; a value JSON cannot
    hold is written as its ``str``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in NOT_FIELDS:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        try:
            return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            # What orjson refuses and ``default`` never sees: an int wider than 64 bits, a str
            # with a lone surrogate. The slower json writes both (the surrogate escaped).
            return json.dumps(line, default=str)


def json_formatter() -> logging.Formatter:
    return JsonLineFormatter()


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig: every record, uvicorn's included, through one JSON handler on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "image_service.logs.json_formatter"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        # uvicorn's loggers keep no handler of their own and pass their records to the root's.
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level.upper()}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure(level: str) -> None:
    logging.config.dictConfig(logging_config(level))


def use_json_on_existing_handlers(level: str) -> None:
    """Where the runtime owns the handlers (AWS Lambda's writes to its log stream and tags each
    record with the request id): keep them, with the JSON formatter; a stderr one if none."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(json_formatter())
    root.setLevel(level.upper())
