"""api/accel.py: which content GETs are handed to nginx (X-Accel-Redirect) and which the service
sends itself because nginx would answer them otherwise."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.requests import Request

from image_service.api.accel import AccelRedirect, offload

ACCEL = AccelRedirect("/_accel/", lambda key: key)


def request() -> Request:
    return Request({"type": "http", "app": SimpleNamespace(state=SimpleNamespace(accel=ACCEL))})


@pytest.mark.parametrize(
    ("conditions", "range_applies", "handed"),
    [
        ({}, False, True),
        ({"range": "bytes=0-99"}, True, True),
        ({"range": "bytes=0-999999999999999999"}, True, True),  # 18 digits: nginx parses it
        ({"range": "bytes=0-1000000000000000000"}, True, False),  # 19: nginx would answer 416
        ({"range": "bytes=00000000000000000001-2"}, True, False),
        ({"range": "bytes=-10000000000000000000"}, True, False),
        ({"range": "items=0-1"}, False, False),
        ({"range": "bytes=0-1", "if-range": '"x"'}, True, False),
    ],
)
def test_what_is_handed_to_nginx(conditions: dict[str, str], range_applies: bool, handed: bool) -> None:
    assert (offload(request(), conditions, range_applies=range_applies) is ACCEL) is handed
