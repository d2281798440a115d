"""The process's logs: one JSON object per line, each with timestamp, level, logger and message.

Fields passed with ``extra=`` become fields of the object (the request log's method, path,
status...); an exception becomes its ``exc_info`` field, one line like the rest. ``serve`` hands
``logging_config`` to uvicorn, so its own loggers (start-up, errors) write the same lines, in
every worker process too.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

# The fields every object has (the style of logging's own formats, which every 3.x reads).
FIELDS = "%(levelname)s %(name)s %(message)s"
RENAMED = {"levelname": "level", "name": "logger"}
# uvicorn adds its message again with terminal colour codes: no use in a log.
NOT_FIELDS = (*RESERVED_ATTRS, "color_message")


def json_formatter() -> logging.Formatter:
    # timestamp=True: ISO 8601 in UTC from the record's creation time, under "timestamp".
    return JsonFormatter(FIELDS, rename_fields=RENAMED, reserved_attrs=NOT_FIELDS, timestamp=True)


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
