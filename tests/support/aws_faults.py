"""Failure injection into real boto3 clients: an operation answers with an AWS error instead of
reaching the emulator. Uses botocore's ``before-call`` event, whose handler may supply the
response; everything else (error parsing, our error mapping) runs as it does against AWS."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse

_ids = itertools.count()


@dataclass
class Fault:
    calls: int = 0


@contextmanager
def failing(
    client: Any,
    operation: str,
    code: str,
    *,
    times: int | None = None,
    status: int = 500,
    reasons: list[str] | None = None,
) -> Iterator[Fault]:
    """``operation`` (e.g. "PutObject") fails with ``code`` (the first ``times`` calls, or all)."""
    fault = Fault()

    def inject(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if times is not None and fault.calls >= times:
            return None
        fault.calls += 1
        parsed: dict[str, Any] = {
            "Error": {"Code": code, "Message": "injected by the test"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        if reasons is not None:
            parsed["CancellationReasons"] = [{"Code": r} for r in reasons]
        return AWSResponse("https://fault.invalid", status, {}, None), parsed  # type: ignore[arg-type]

    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    unique = f"fault-{next(_ids)}"
    client.meta.events.register(event, inject, unique_id=unique)
    try:
        yield fault
    finally:
        client.meta.events.unregister(event, unique_id=unique)
