"""The JSON log formatter: one object per record, on one line, exceptions included."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from image_service.logs import json_formatter


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("image_service.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_a_record_is_one_object_with_its_extra_fields(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    logger.info("GET %s %d", "/images", 200, extra={"status": 200, "request_id": "r1"})
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "GET /images 200" and record["level"] == "INFO"
    assert record["logger"] == "image_service.test_logs"
    assert record["timestamp"].endswith("+00:00"), "UTC"
    assert (record["status"], record["request_id"]) == (200, "r1")


def test_an_exception_stays_on_the_line(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logger.exception("unhandled error on %s", "/x")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and "ValueError: boom" in record["exc_info"]
