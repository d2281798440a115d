"""Failure injection on the AWS backend: S3 and DynamoDB errors reach the HTTP API as clean
4xx/503 answers, and nothing is left behind (fsck finds nothing, or finds exactly what the
documented write order allows and repairs it).

The app runs in-process on a real aws Context (DynamoDB Local + moto S3); faults are injected
into the very boto3 clients it uses (``aws_faults.failing``).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from api_helpers import post_image
from app_thread import serving
from aws_faults import failing

from image_service.api.app import create_app
from image_service.services.context import Context
from image_service.services.fsck import FsckStores, fsck

ALICE = {"X-User-Id": "alice"}
NOW = timedelta(0)


@pytest.fixture
def api(aws_ctx: Context) -> Iterator[httpx.Client]:
    with serving(create_app(aws_ctx, auth="none", backend="aws")) as client:
        yield client


def clients(ctx: Context) -> Any:
    return ctx.catalog.table.clients  # type: ignore[attr-defined]


def upload(api: httpx.Client, **fields: Any) -> httpx.Response:
    return post_image(api, headers=ALICE, user_id="alice", **fields)


def stored(ctx: Context) -> tuple[int, int]:
    report = fsck(ctx, FsckStores.of(ctx), grace=NOW)
    assert report.clean, report
    return report.images, report.objects


def assert_error(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}


def test_a_failing_s3_put_is_503_and_stores_nothing(api: httpx.Client, aws_ctx: Context) -> None:
    with failing(clients(aws_ctx).s3, "PutObject", "InternalError") as fault:
        assert_error(upload(api), 503)
    assert fault.calls == 1
    assert stored(aws_ctx) == (0, 0)


def test_a_failing_metadata_transaction_deletes_the_object(api: httpx.Client, aws_ctx: Context) -> None:
    with failing(clients(aws_ctx).dynamodb, "TransactWriteItems", "InternalServerError"):
        assert_error(upload(api, tags=["a"]), 503)
    assert stored(aws_ctx) == (0, 0)


def test_transaction_conflicts_are_retried(api: httpx.Client, aws_ctx: Context) -> None:
    reasons = ["None", "TransactionConflict", "None"]
    with failing(
        clients(aws_ctx).dynamodb, "TransactWriteItems", "TransactionCanceledException", status=400,
        reasons=reasons, times=2,
    ) as fault:  # fmt: skip
        response = upload(api, tags=["a"])
    assert response.status_code == 201, response.text
    assert fault.calls == 2
    assert stored(aws_ctx) == (1, 1)


def test_conflicts_that_never_clear_are_503_and_leave_nothing(api: httpx.Client, aws_ctx: Context) -> None:
    with failing(
        clients(aws_ctx).dynamodb, "TransactWriteItems", "TransactionCanceledException", status=400,
        reasons=["None", "TransactionConflict"],
    ):  # fmt: skip
        assert_error(upload(api), 503)
    assert stored(aws_ctx) == (0, 0)


def test_throttling_is_503_and_the_service_recovers(api: httpx.Client, aws_ctx: Context) -> None:
    image_id = upload(api).json()["image_id"]
    with failing(clients(aws_ctx).dynamodb, "GetItem", "ThrottlingException", status=400):
        assert_error(api.get(f"/images/{image_id}", headers=ALICE), 503)
        assert_error(api.get(f"/images/{image_id}/content", headers=ALICE), 503)
    with failing(clients(aws_ctx).dynamodb, "Query", "ProvisionedThroughputExceededException", status=400):
        assert_error(api.get("/images", headers=ALICE), 503)
    assert api.get(f"/images/{image_id}/content", headers=ALICE).status_code == 200
    assert stored(aws_ctx) == (1, 1)


def test_a_failing_object_delete_leaves_an_orphan_that_fsck_repairs(
    api: httpx.Client, aws_ctx: Context
) -> None:
    image_id = upload(api).json()["image_id"]
    with failing(clients(aws_ctx).s3, "DeleteObject", "InternalError"):
        response = api.delete(f"/images/{image_id}", headers=ALICE)
    assert response.status_code == 200, "the metadata is gone, so the image is deleted for every reader"
    assert api.get(f"/images/{image_id}", headers=ALICE).status_code == 404
    report = fsck(aws_ctx, FsckStores.of(aws_ctx), grace=NOW)
    assert (report.images, len(report.orphan_objects), report.missing_objects) == (0, 1, [])
    fsck(aws_ctx, FsckStores.of(aws_ctx), repair=True, grace=NOW)
    assert stored(aws_ctx) == (0, 0)


def test_a_failing_metadata_delete_is_503_and_keeps_the_image_whole(
    api: httpx.Client, aws_ctx: Context
) -> None:
    image_id = upload(api, tags=["keep"]).json()["image_id"]
    with failing(clients(aws_ctx).dynamodb, "TransactWriteItems", "InternalServerError"):
        assert_error(api.delete(f"/images/{image_id}", headers=ALICE), 503)
    assert api.get(f"/images/{image_id}/content", headers=ALICE).status_code == 200
    assert [i["image_id"] for i in api.get("/images?tag=keep", headers=ALICE).json()["images"]] == [image_id]
    assert stored(aws_ctx) == (1, 1)


def test_racing_uploads_of_one_name_store_exactly_one(api: httpx.Client, aws_ctx: Context) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(lambda _: upload(api, name="same.png").status_code, range(6)))
    assert statuses == [201] + [409] * 5
    assert stored(aws_ctx) == (1, 1), "every loser deleted its object"


def test_racing_tag_updates_leave_the_tag_index_consistent(api: httpx.Client, aws_ctx: Context) -> None:
    image_id = upload(api, tags=["start"]).json()["image_id"]
    tag_sets = [["a", "b"], ["b", "c"], ["c", "d"], ["a", "d"], ["e"], ["a", "e"]]
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(
            pool.map(
                lambda tags: api.patch(f"/images/{image_id}", json={"tags": tags}, headers=ALICE), tag_sets
            )
        )
    assert {r.status_code for r in responses} <= {200, 503}
    assert any(r.status_code == 200 for r in responses)
    final = api.get(f"/images/{image_id}", headers=ALICE).json()["metadata"]["tags"]
    for tag in ["start", "a", "b", "c", "d", "e"]:
        listed = [i["image_id"] for i in api.get(f"/images?tag={tag}", headers=ALICE).json()["images"]]
        assert listed == ([image_id] if tag in final else []), (tag, final)


def test_accesses_counted_while_a_patch_is_in_flight_are_kept(api: httpx.Client, aws_ctx: Context) -> None:
    """PATCH reads the image, then writes it: views counted in between must survive the write."""
    image_id = upload(api).json()["image_id"]
    db = clients(aws_ctx).dynamodb
    counted: list[int] = []

    def view_meanwhile(**_: Any) -> None:
        if not counted:  # once, between PATCH's read and its transaction
            counted.append(aws_ctx.catalog.record_access(image_id, aws_ctx.now()).access_count)

    db.meta.events.register("before-call.dynamodb.TransactWriteItems", view_meanwhile, unique_id="meanwhile")
    try:
        assert api.patch(f"/images/{image_id}", json={"title": "new"}, headers=ALICE).status_code == 200
    finally:
        db.meta.events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="meanwhile")
    assert counted == [1]
    metadata = api.get(f"/images/{image_id}", headers=ALICE).json()["metadata"]
    assert (metadata["title"], metadata["access_count"]) == ("new", 1)
