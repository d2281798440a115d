"""DELETE /images/{id} and bulk DELETE /images take every rendition of the image with it.

Renditions are made the way readers make them (GET .../content?w=...), and one more is written
straight into the server's blob store through a context on its storage (an object under the
image's rendition folder that no request of this test made, such as one of another engine
version). After the delete, nothing is left under the image's rendition folder, read below the
API, on both backends; the renditions of other images stay.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from api_helpers import assert_error
from api_server import Server, Upload

from image_service.bootstrap import bootstrap
from image_service.cli.options import settings_for
from image_service.domain.renditions import rendition_key, rendition_prefix
from image_service.ports import BlobInventory, BlobStore

pytestmark = pytest.mark.api

REQUESTS = ({"w": "64"}, {"w": "128", "format": "png"})


@pytest.fixture(scope="module")
def server_blobs(server: Server) -> Iterator[BlobStore]:
    """The server's blob store, wired by the same composition root from the server's settings."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in server.env.items():
            env.setenv(name, value)
        blobs = bootstrap(settings_for(server.data_dir)).blobs
        assert isinstance(blobs, BlobInventory)
        yield blobs  # inside the patched environment: clients may read it when first used


def renditions_of(blobs: BlobStore, image_id: str) -> list[str]:
    assert isinstance(blobs, BlobInventory)
    folder = blobs.folder_ref(rendition_prefix(image_id))
    return [blob.ref for blob in blobs.inventory() if blob.ref.startswith(folder)]


def with_renditions(client: httpx.Client, blobs: BlobStore, upload: Upload) -> str:
    image_id = str(upload(client)["image_id"])
    for params in REQUESTS:
        response = client.get(f"/images/{image_id}/content", params=params)
        assert response.status_code == 200, response.text
    assert blobs.put_new(rendition_key(image_id, "written-by-the-test"), b"bytes", "image/webp")
    assert len(renditions_of(blobs, image_id)) == len(REQUESTS) + 1
    return image_id


def test_delete_removes_the_renditions(alice: httpx.Client, server_blobs: BlobStore, upload: Upload) -> None:
    gone, kept = (with_renditions(alice, server_blobs, upload) for _ in range(2))
    response = alice.delete(f"/images/{gone}")
    assert response.status_code == 200, response.text
    assert renditions_of(server_blobs, gone) == []
    assert len(renditions_of(server_blobs, kept)) == len(REQUESTS) + 1, "other images keep theirs"
    # A reader asking again after the delete makes none anew.
    assert_error(alice.get(f"/images/{gone}/content", params=REQUESTS[0]), 404)
    assert renditions_of(server_blobs, gone) == []


def test_bulk_delete_removes_the_renditions(
    alice: httpx.Client, server_blobs: BlobStore, upload: Upload
) -> None:
    first, second, kept = (with_renditions(alice, server_blobs, upload) for _ in range(3))
    response = alice.request("DELETE", "/images", json={"image_ids": [first, second]})
    assert response.status_code == 200, response.text
    assert sorted(response.json()["deleted"]) == sorted([first, second])
    assert renditions_of(server_blobs, first) == renditions_of(server_blobs, second) == []
    assert len(renditions_of(server_blobs, kept)) == len(REQUESTS) + 1
