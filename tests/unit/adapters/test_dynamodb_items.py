"""The DynamoDB key parsers read back exactly what the builders wrote."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from image_service.adapters.dynamodb_items import (
    image_id_of,
    image_key,
    image_partition,
    order_key,
    order_key_parts,
    tag_key,
    tag_of_partition,
    tag_partition,
)
from image_service.aws.table import PK
from image_service.domain.models import format_time


@pytest.mark.parametrize("image_id", ["img-1", "a#b", "IMAGE#x"])
def test_an_image_id_comes_back_from_its_partition(image_id: str) -> None:
    assert image_id_of(image_partition(image_id)) == image_id
    assert image_key(image_id)[PK]["S"] == tag_key(image_id, "cat")[PK]["S"] == image_partition(image_id)


@pytest.mark.parametrize("tag", ["cat", "c#sharp", "#", "tag#3"])
@pytest.mark.parametrize("shard", [0, 3, 12])
def test_a_tag_comes_back_from_its_partition(tag: str, shard: int) -> None:
    assert tag_of_partition(tag_partition(tag, shard)) == tag


def test_the_time_and_id_come_back_from_an_order_key() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert order_key_parts(order_key(at, "img#1")) == (format_time(at), "img#1")
