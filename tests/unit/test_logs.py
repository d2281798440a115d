"""The JSON log formatter: one object per record, on one line, exceptions included."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from image_service.api.request_log import request_id_of
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


def test_dates_are_iso_and_other_values_json_cannot_hold_are_text(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    when = datetime(2026, 12, 1, tzinfo=UTC)
    logger.info("x", extra={"when": when, "path": Path("/a")})
    record = json.loads(stream.getvalue())
    assert (record["when"], record["path"]) == (when.isoformat(), "/a")
    # A LogRecord's own attributes are no fields of the line.
    assert not {"lineno", "pathname", "args", "msg", "created", "taskName"} & set(record)


def test_request_ids_are_unique_and_an_incoming_sane_one_is_kept() -> None:
    made = {request_id_of({"headers": []}) for _ in range(1000)}
    assert len(made) == 1000 and all(len(i) == 32 and int(i, 16) >= 0 for i in made)
    assert request_id_of({"headers": [(b"x-request-id", b"abc-1.2_3")]}) == "abc-1.2_3"
    assert request_id_of({"headers": [(b"x-request-id", b"bad id")]}) not in ("bad id", "")


@pytest.mark.parametrize(
    ("value", "written"),
    [(2**64, 2**64), (-(2**70), -(2**70)), ("a\udc80b", "a\udc80b")],
    ids=["int-past-64-bits", "negative-wide-int", "lone-surrogate"],
)
def test_values_orjson_refuses_are_written_too(
    logged: tuple[logging.Logger, io.StringIO], value: object, written: object
) -> None:
    logger, stream = logged
    logger.info("odd %s", "value", extra={"odd": value})
    line = stream.getvalue()
    assert line.count("\n") == 1
    assert line.isascii()  # the surrogate escaped: the line can be written as UTF-8
    fields = json.loads(line)
    assert (fields["odd"], fields["message"], fields["level"]) == (written, "odd value", "INFO")
