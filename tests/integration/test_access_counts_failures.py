"""Grouped access counts on the AWS backend when DynamoDB fails: a GET is answered regardless,
and the counts it took are written by a later attempt, none lost and none twice.

The app runs in-process on a real aws Context (DynamoDB Local + moto S3) with a short window;
faults go into the very boto3 client it uses (``aws_faults.failing``)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_helpers import post_image
from app_thread import serving
from aws_faults import failing

from image_service.api.app import create_app
from image_service.services.access_counts import GroupedAccessCounts
from image_service.services.context import Context

ALICE = {"X-User-Id": "alice"}
WAIT = 10.0


@pytest.fixture
def grouped(aws_ctx: Context) -> Iterator[Context]:
    counts = GroupedAccessCounts(aws_ctx.catalog, interval=0.02)
    yield dataclasses.replace(aws_ctx, access_counts=counts)
    counts.close()


@pytest.fixture
def api(grouped: Context) -> Iterator[httpx.Client]:
    with serving(create_app(grouped, auth="none", backend="aws")) as client:
        yield client


class UpdatesSeen:
    """Every UpdateItem the client answers, failed (injected) or not, as botocore reports it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.statuses: list[int] = []
        self.changed = threading.Condition()

    def __call__(self, http_response: Any, **_: Any) -> None:
        with self.changed:
            self.statuses.append(http_response.status_code)
            self.changed.notify_all()

    def wait_for_success(self) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: 200 in self.statuses, timeout=WAIT), self.statuses

    def __enter__(self) -> UpdatesSeen:
        self.client.meta.events.register("after-call.dynamodb.UpdateItem", self, unique_id="updates-seen")
        return self

    def __exit__(self, *_: object) -> None:
        self.client.meta.events.unregister("after-call.dynamodb.UpdateItem", unique_id="updates-seen")


def test_a_failing_write_is_retried_and_the_gets_are_answered(
    api: httpx.Client, grouped: Context, caplog: pytest.LogCaptureFixture
) -> None:
    image_id = post_image(api, headers=ALICE, user_id="alice").json()["image_id"]
    dynamodb = grouped.catalog.table.clients.dynamodb  # type: ignore[attr-defined]
    with (
        UpdatesSeen(dynamodb) as seen,
        failing(dynamodb, "UpdateItem", "InternalServerError", times=3) as fault,
    ):
        for _ in range(4):
            assert api.get(f"/images/{image_id}/content").status_code == 200
        seen.wait_for_success()  # after the failed attempts, in the background
    assert fault.calls == 3
    assert seen.statuses[:3] == [500, 500, 500]
    # The counter's writes failed (botocore does not retry an injected answer) and it tried again.
    assert "access counts not written, retrying" in caplog.text
    metadata = api.get(f"/images/{image_id}", headers=ALICE).json()["metadata"]
    assert metadata["access_count"] == 4


def test_a_view_while_dynamodb_fails_is_answered_and_counts_later(
    api: httpx.Client, grouped: Context
) -> None:
    image_id = post_image(api, headers=ALICE, user_id="alice").json()["image_id"]
    dynamodb = grouped.catalog.table.clients.dynamodb  # type: ignore[attr-defined]
    assert grouped.access_counts is not None
    with failing(dynamodb, "UpdateItem", "InternalServerError"):
        assert api.get(f"/images/{image_id}/content").status_code == 200
        view = api.get(f"/images/{image_id}", headers=ALICE)
        assert view.status_code == 200  # the read is served, with the count it could write
        assert grouped.access_counts.pending == 1
    assert api.get(f"/images/{image_id}", headers=ALICE).json()["metadata"]["access_count"] == 1
