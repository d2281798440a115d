"""The list indexes' projections (aws/table.py) against DynamoDB's limit and against what the
rows read from them need: every field of a list answer, the list copy of the counters, and on
``by_user_v2`` the API keys; never the exact counters, whose every change would rewrite every
index entry of the image (docs/ARCHITECTURE.md, "List items")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from image_service.adapters.dynamodb_items import apikey_item, image_item, tag_item
from image_service.aws import table
from image_service.deploy import template as templates
from image_service.domain.models import ApiKey, Image, Visibility

ROOT = Path(__file__).parents[2]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LISTS = [name for name, _, _ in table.INDEXES if name != table.BY_TEXT[0]]
IMAGE = Image(
    image_id="i1",
    user_id="alice",
    name="i1.png",
    filename="a.png",
    content_type="image/png",
    format="PNG",
    width=3,
    height=2,
    size=100,
    checksum_sha256="0" * 64,
    blob_key="alice/i1",
    created_at=T0,
    updated_at=T0,
    title="t",
    description="d",
    tags=("cat",),
    category="pets",
    visibility=Visibility.PUBLIC,
    orientation=6,
    access_count=3,
    last_accessed_at=T0,
)


def deployed_indexes() -> list[dict[str, Any]]:
    sam = templates.load((ROOT / "infra" / "template.yaml").read_text())
    indexes: list[dict[str, Any]] = sam["Resources"]["ImageTable"]["Properties"]["GlobalSecondaryIndexes"]
    return indexes


def key_attributes(index_name: str) -> set[str]:
    [(pk, sk)] = [(pk, sk) for name, pk, sk in table.INDEXES if name == index_name]
    return {table.PK, table.SK, pk, sk}


def test_the_projected_attributes_stay_within_dynamodbs_limit_of_100() -> None:
    indexes = deployed_indexes()
    assert {i["IndexName"] for i in indexes} == {name for name, _, _ in table.INDEXES}
    projections = [i["Projection"] for i in indexes]
    assert all(p["ProjectionType"] == "INCLUDE" for p in projections)
    total = sum(len(p["NonKeyAttributes"]) for p in projections)
    assert total == sum(len(table.projected(name)) for name, _, _ in table.INDEXES)
    assert total <= table.MAX_PROJECTED == 100, total


def test_no_projection_names_a_key_attribute_twice_or_the_exact_counters() -> None:
    for name, _, _ in table.INDEXES:
        projected = table.projected(name)
        assert len(set(projected)) == len(projected), name
        assert not set(projected) & key_attributes(name), "key attributes are always projected"
        assert not {"access_count", "last_accessed_at"} & set(projected), name


def test_a_list_row_carries_everything_its_item_has_but_the_exact_counters() -> None:
    for name in LISTS:
        shown = set(table.projected(name)) | key_attributes(name)
        item = image_item(IMAGE, 1) if name != table.BY_TAG[0] else tag_item(IMAGE, "cat")
        left_out = set(item) - shown
        assert left_out <= {"access_count", "last_accessed_at", "version"} | {
            attr for _, pk, sk in table.INDEXES for attr in (pk, sk)
        }, (name, left_out)
        assert table.LISTED in shown


def test_the_key_list_reads_whole_keys_from_by_user() -> None:
    key = ApiKey(key_id="k", user_id="alice", key_hash="h", is_admin=True, created_at=T0, revoked_at=T0)
    shown = set(table.projected(table.BY_USER[0])) | key_attributes(table.BY_USER[0])
    assert set(apikey_item(key)) <= shown
