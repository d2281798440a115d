"""`image-service reindex` on DynamoDB Local: images stored without text items (as an older
version stored them; simulated by deleting their items) become searchable, a stopped run resumes
from its token, a second run writes nothing, and the command reports what it did."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_emulators import AwsResources, fresh_resources
from test_dynamodb_search import make_image, q, walk

from image_service.adapters.dynamodb_backfill import DynamoDBTextBackfill
from image_service.adapters.dynamodb_catalog import DynamoDBImageCatalog
from image_service.adapters.dynamodb_words import text_items, user_count_key
from image_service.aws.table import BY_USER
from image_service.domain.errors import InvalidInput
from image_service.domain.models import Image, Visibility
from image_service.services.reindex import ReindexReport, reindex


class Stop(Exception):
    pass


def strip_text_items(catalog: DynamoDBImageCatalog, images: list[Image]) -> None:
    for image in images:
        catalog.words.remove(image.image_id)


@pytest.fixture
def resources() -> AwsResources:
    return fresh_resources()


@pytest.fixture
def older(resources: AwsResources) -> tuple[DynamoDBImageCatalog, list[Image]]:
    """Eight images, three private, stored as before text search: no text items."""
    catalog = resources.catalog()
    images = [
        make_image(title=f"old photo {i}", visibility=Visibility.PRIVATE if i % 3 == 0 else Visibility.PUBLIC)
        for i in range(8)
    ]
    for image in images:
        catalog.add(image)
    strip_text_items(catalog, images)
    assert walk(catalog, q("photo")) == []
    return catalog, images


def test_a_stopped_run_resumes_from_its_token_and_a_second_run_writes_nothing(
    older: tuple[DynamoDBImageCatalog, list[Image]],
) -> None:
    catalog, images = older
    backfill = DynamoDBTextBackfill(catalog, page=3)
    assert backfill.image_count() == len(images)
    seen: list[ReindexReport] = []

    def stop_after_first_page(report: ReindexReport, _: int) -> None:
        seen.append(ReindexReport(**vars(report)))
        raise Stop

    with pytest.raises(Stop):
        reindex(backfill, progress=stop_after_first_page)
    [first] = seen
    assert 1 <= first.images <= 3 and first.changed == first.images and first.token
    assert len(walk(catalog, q("photo"))) == first.images, "the first page is done"

    rest = reindex(backfill, after=first.token)
    assert rest.images == rest.changed == len(images) - first.images
    newest_first = sorted(images, key=lambda i: (i.created_at, i.image_id), reverse=True)
    assert walk(catalog, q("photo")) == [i.image_id for i in newest_first]
    assert walk(catalog, q("old ph")) == [i.image_id for i in newest_first]

    again = reindex(backfill)
    assert (again.images, again.changed, again.items) == (len(images), 0, 0), "idempotent"


def test_a_bad_token_is_refused(older: tuple[DynamoDBImageCatalog, list[Image]]) -> None:
    backfill = DynamoDBTextBackfill(older[0])
    for token in ("x/1", "99/1", "3"):
        with pytest.raises(InvalidInput):
            reindex(backfill, after=token)


def test_the_command_reindexes_and_reports(
    older: tuple[DynamoDBImageCatalog, list[Image]], resources: AwsResources, tmp_path: Path
) -> None:
    catalog, images = older
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **resources.env(), "IMAGE_SERVICE_BACKEND": "aws"}
    exe = Path(sys.executable).with_name("image-service")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe), "reindex", *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    done = run()
    assert done.returncode == 0, done.stderr
    assert f"reindexed {len(images)} images: {len(images)} needed it" in done.stdout
    assert len(walk(catalog, q("photo"))) == len(images)
    again = run()
    assert f"reindexed {len(images)} images: 0 needed it (0 items" in again.stdout
    bad = run("--after", "nonsense")
    assert bad.returncode == 2 and "not a reindex token" in bad.stderr


def test_the_command_has_nothing_to_do_on_the_local_backend(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "IMAGE_SERVICE_DATA_DIR": str(tmp_path / "data")}
    exe = Path(sys.executable).with_name("image-service")
    command = [str(exe), "reindex", "--backend", "local"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "nothing to do" in done.stdout


def test_a_patch_or_delete_during_reindex_is_never_undone(
    resources: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """reindex reads an image, then writes its items: a PATCH or delete landing in between must
    not have its words overwritten with the older title's, nor the deleted image's recreated."""
    catalog = resources.catalog()
    patched, deleted = make_image(title="older title"), make_image(title="doomed title")
    for image in (patched, deleted):
        catalog.add(image)
    strip_text_items(catalog, [patched, deleted])
    sync = catalog.words.sync
    races = {
        patched.image_id: lambda: catalog.update(
            dataclasses.replace(catalog.get(patched.image_id), title="newer")
        ),
        deleted.image_id: lambda: catalog.remove(deleted.image_id),
    }

    def racing_sync(image: Image, **kwargs: Any) -> int:
        race = races.pop(image.image_id, None)
        if race is not None:
            race()  # lands after reindex read the image, before it writes the items
        return sync(image, **kwargs)

    monkeypatch.setattr(catalog.words, "sync", racing_sync)
    reindex(DynamoDBTextBackfill(catalog))
    assert not races
    assert catalog.words.items_of(patched.image_id) == text_items(catalog.get(patched.image_id))
    assert walk(catalog, q("older")) == []
    assert catalog.words.items_of(deleted.image_id) == {}


def indexes_read(catalog: DynamoDBImageCatalog) -> list[str]:
    indexes: list[str] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        indexes.append(params.get("IndexName", ""))

    catalog.table.client.meta.events.register("before-parameter-build.dynamodb.Query", seen)
    return indexes


def test_reindex_recounts_every_user_s_images(resources: AwsResources) -> None:
    """Users' image counts (``USERCOUNT``) began with text search: a user with many older images
    looks small, and their partition would drive a search for a rare word. reindex writes the
    counts from its walk."""
    catalog = resources.catalog()
    old = [
        make_image(title=f"old {i}", visibility=Visibility.PRIVATE if i % 4 == 0 else Visibility.PUBLIC)
        for i in range(12)
    ]
    for image in old:
        catalog.add(image)
    strip_text_items(catalog, old)
    for visibility in Visibility:  # stored before counting began
        catalog.table.client.delete_item(
            TableName=catalog.table.name, Key=user_count_key("alice", visibility)
        )
    rare = make_image(title="rareword")
    new = [rare, make_image(title="other", visibility=Visibility.PRIVATE)]
    new += [make_image(title="rareword", user_id="bob") for _ in range(2)]
    for image in new:
        catalog.add(image)
    assert catalog.words.user_images("alice", list(Visibility)) == 2, "only the uploads since counting"

    report = reindex(DynamoDBTextBackfill(catalog, page=5))
    assert report.users == 2
    alice = old + new[:2]
    for visibility in Visibility:
        real = sum(1 for i in alice if i.visibility is visibility)
        assert catalog.words.user_images("alice", [visibility]) == real
    assert catalog.words.user_images("bob", [Visibility.PUBLIC]) == 2
    assert catalog.words.user_images("bob", [Visibility.PRIVATE]) == 0, "counted, none"
    indexes = indexes_read(catalog)
    assert walk(catalog, q("rareword", user_id="alice")) == [rare.image_id]
    assert "by_text" in indexes and BY_USER[0] not in indexes, "the word's 3 images, not alice's 14"


def test_a_user_partition_without_its_count_never_drives(resources: AwsResources) -> None:
    catalog = resources.catalog()
    mine = make_image(title="word", user_id="carol")
    catalog.add(mine)
    for _ in range(3):
        catalog.add(make_image(title="word", user_id="dave"))
    assert catalog.words.user_images("carol", [Visibility.PUBLIC]) == 1
    assert catalog.words.user_images("carol", list(Visibility)) is None, "her private count is missing"
    catalog.table.client.put_item(
        TableName=catalog.table.name,
        Item={**user_count_key("carol", Visibility.PUBLIC), "images": {"N": "-1"}},
    )
    assert catalog.words.user_images("carol", [Visibility.PUBLIC]) is None, "a count gone below 0 is unknown"
    indexes = indexes_read(catalog)
    assert walk(catalog, q("word", user_id="carol")) == [mine.image_id]
    assert BY_USER[0] not in indexes
