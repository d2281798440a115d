"""`image-service reindex` on DynamoDB Local: images stored without text items (as an older
version stored them; simulated by deleting their items) become searchable, a stopped run resumes
from its token, a second run writes nothing, and the command reports what it did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from aws_emulators import AwsResources, fresh_resources
from test_dynamodb_search import make_image, q, walk

from image_service.adapters.dynamodb_backfill import DynamoDBTextBackfill
from image_service.adapters.dynamodb_catalog import DynamoDBImageCatalog
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
