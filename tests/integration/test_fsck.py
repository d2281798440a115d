"""fsck on both backends: finds orphan objects, renditions without their image, images without
bytes and stale pending uploads, repairs them, and leaves alone what is young (an upload or a
rendition in flight) or healthy."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import png
from aws_emulators import fresh_resources

from image_service.domain.errors import BackendUnavailable, NotFound
from image_service.domain.models import Caller
from image_service.domain.renditions import RENDITIONS_PREFIX, rendition_key, rendition_prefix
from image_service.ports import BlobInventory, BlobStore
from image_service.services.context import Context
from image_service.services.direct_uploads import start_direct_upload
from image_service.services.fsck import FsckStores, fsck
from image_service.services.images import delete_image, delete_images
from image_service.services.uploads import UploadDraft, upload_images

ALICE = Caller(user_id="alice")
NOW = timedelta(0)


def upload(ctx: Context, **fields: str) -> str:
    [image] = upload_images(ctx, ALICE, [UploadDraft(data=png(), **fields)])
    return image.image_id


def test_a_healthy_store_is_clean(ctx: Context) -> None:
    kept = [upload(ctx, tags="a,b") for _ in range(3)]
    delete_image(ctx, ALICE, upload(ctx))
    report = fsck(ctx, FsckStores.of(ctx), grace=NOW)
    assert report.clean, report
    assert (report.images, report.objects) == (len(kept), len(kept))


def test_an_object_without_metadata_is_found_and_removed(ctx: Context) -> None:
    image_id = upload(ctx)
    ctx.blobs.put("alice/ghost", png(), "image/png")
    spared = fsck(ctx, FsckStores.of(ctx))
    assert spared.clean, "a young object may be an upload in flight: spared by the grace period"
    assert spared.young_unreferenced == 1, "but the report says it spared one"
    report = fsck(ctx, FsckStores.of(ctx), grace=NOW)
    assert report.orphan_objects == [ctx.blobs.ref("alice/ghost")]
    assert ctx.blobs.exists("alice/ghost"), "without --repair nothing is deleted"
    repaired = fsck(ctx, FsckStores.of(ctx), repair=True, grace=NOW)
    assert repaired.orphan_objects == [ctx.blobs.ref("alice/ghost")]
    assert not ctx.blobs.exists("alice/ghost")
    assert fsck(ctx, FsckStores.of(ctx), grace=NOW).clean
    assert ctx.catalog.get(image_id).image_id == image_id, "healthy images are untouched"


def test_no_grace_spares_nothing_even_against_a_coarser_clock(ctx: Context) -> None:
    """The catalog's clock keeps milliseconds, file times keep microseconds: an object written in
    the current millisecond is "younger than now". With no grace it is an orphan all the same."""
    ctx.blobs.put("alice/just-now", png(), "image/png")
    [blob] = [b for b in ctx.blobs.inventory() if b.ref == ctx.blobs.ref("alice/just-now")]
    behind = dataclasses.replace(ctx, now=lambda: blob.modified - timedelta(milliseconds=1))
    report = fsck(behind, FsckStores.of(behind), grace=NOW)
    assert report.orphan_objects == [blob.ref]
    assert report.young_unreferenced == 0


def test_an_image_without_its_object_is_found_and_removed(ctx: Context) -> None:
    healthy, broken = upload(ctx), upload(ctx, name="broken.png", tags="x")
    ctx.blobs.delete(ctx.catalog.get(broken).blob_key)
    report = fsck(ctx, FsckStores.of(ctx), grace=NOW)
    assert report.missing_objects == [broken]
    fsck(ctx, FsckStores.of(ctx), repair=True, grace=NOW)
    with pytest.raises(NotFound):
        ctx.catalog.get(broken)
    with pytest.raises(NotFound):
        ctx.catalog.get_by_name("broken.png")
    assert fsck(ctx, FsckStores.of(ctx), grace=NOW).clean
    assert ctx.catalog.get(healthy).image_id == healthy


def test_stale_pending_uploads_are_found_and_swept(ctx: Context) -> None:
    pending, _ = start_direct_upload(ctx, ALICE, UploadDraft(data=b""), content_type="image/png", size=100)
    ctx.blobs.put(pending.blob_key, png(), "image/png")
    assert fsck(ctx, FsckStores.of(ctx), grace=NOW).clean, (
        "a live pending upload and its bytes are not damage"
    )
    later = dataclasses.replace(ctx, now=lambda: pending.expires_at + timedelta(seconds=1))
    report = fsck(later, FsckStores.of(later), grace=NOW)
    assert report.stale_pending == [pending.image_id]
    assert report.orphan_objects == [], "its bytes are counted with the pending upload, not twice"
    fsck(later, FsckStores.of(later), repair=True, grace=NOW)
    assert not ctx.blobs.exists(pending.blob_key)
    with pytest.raises(NotFound):
        ctx.pending.get_pending(pending.image_id)
    assert fsck(later, FsckStores.of(later), grace=NOW).clean


@pytest.mark.parametrize("backend", ["local", "aws"])
def test_the_cli_exits_1_on_damage_and_0_after_repair(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "IMAGE_SERVICE_DATA_DIR": str(tmp_path / "data")}
    if backend == "aws":
        env |= fresh_resources().env()
    exe = Path(sys.executable).with_name("image-service")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe), "fsck", *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    assert run().returncode == 0
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from image_service.bootstrap import bootstrap

    bootstrap().blobs.put("bob/orphan", b"bytes", "image/png")
    young = run()
    assert young.returncode == 0, young.stderr
    assert "found 0 objects without metadata" in young.stdout
    assert "spared 1 objects without metadata younger than the grace period" in young.stdout
    assert "--grace 0" in young.stdout
    found = run("--grace", "0")
    assert found.returncode == 1, found.stderr
    assert "found 1 objects without metadata" in found.stdout
    repaired = run("--repair", "--grace", "0")
    assert repaired.returncode == 0, repaired.stderr
    assert "removed 1 objects without metadata" in repaired.stdout
    assert run("--grace", "0").returncode == 0


# ---------------------------------------------------------------------- renditions


def add_renditions(ctx: Context, image_id: str, *tokens: str) -> list[str]:
    """Rendition objects as the rendition service stores them (made once: put_new)."""
    keys = [rendition_key(image_id, token) for token in tokens]
    for key in keys:
        assert ctx.blobs.put_new(key, b"rendition bytes", "image/webp")
    return keys


def under(ctx: Context, prefix: str) -> list[str]:
    assert isinstance(ctx.blobs, BlobInventory)
    start = ctx.blobs.folder_ref(prefix)
    return [blob.ref for blob in ctx.blobs.inventory() if blob.ref.startswith(start)]


class FailingPrefixDeletes:
    """The context's blob store, but ``delete_prefix`` fails as a storage outage would."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def delete_prefix(self, prefix: str) -> int:
        raise BackendUnavailable("injected: storage unreachable")


def test_renditions_of_existing_images_are_healthy_and_counted(ctx: Context) -> None:
    first, second = upload(ctx), upload(ctx)
    add_renditions(ctx, first, "w256", "w512-webp")
    add_renditions(ctx, second, "w64")
    report = fsck(ctx, FsckStores.of(ctx), grace=NOW)
    assert report.clean, report
    assert (report.images, report.objects, report.renditions) == (2, 5, 3)
    assert fsck(ctx, FsckStores.of(ctx), repair=True, grace=NOW).clean
    assert len(under(ctx, RENDITIONS_PREFIX)) == 3, "repair leaves healthy renditions alone"


def test_deleting_images_deletes_their_renditions(ctx: Context) -> None:
    single, bulk_a, bulk_b, kept = (upload(ctx) for _ in range(4))
    for image_id in (single, bulk_a, bulk_b, kept):
        add_renditions(ctx, image_id, "w256", "w1024")
    delete_image(ctx, ALICE, single)
    delete_images(ctx, ALICE, [bulk_a, bulk_b])
    for image_id in (single, bulk_a, bulk_b):
        assert under(ctx, rendition_prefix(image_id)) == []
    assert len(under(ctx, rendition_prefix(kept))) == 2
    assert fsck(ctx, FsckStores.of(ctx), grace=NOW).clean


def test_renditions_whose_image_is_gone_are_found_and_removed(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    kept, deleted = upload(ctx), upload(ctx)
    add_renditions(ctx, kept, "w256")
    orphans = add_renditions(ctx, deleted, "w256", "w512") + add_renditions(ctx, "never-existed", "w64")
    broken = dataclasses.replace(ctx, blobs=FailingPrefixDeletes(ctx.blobs))
    delete_image(broken, ALICE, deleted)  # the image goes; its renditions stay behind
    assert "renditions" in caplog.text and deleted in caplog.text, "the failure is logged"
    with pytest.raises(NotFound):
        ctx.catalog.get(deleted)
    assert ctx.blobs.exists(ctx.catalog.get(kept).blob_key)

    spared = fsck(ctx, FsckStores.of(ctx))
    assert spared.clean, "young renditions may be in the making: spared by the grace period"
    assert spared.young_unreferenced == len(orphans)
    report = fsck(ctx, FsckStores.of(ctx), grace=NOW)
    assert isinstance(ctx.blobs, BlobInventory)
    assert sorted(report.orphan_renditions) == sorted(ctx.blobs.ref(key) for key in orphans)
    assert report.orphan_objects == [], "the original went with its image"
    assert report.renditions == 1
    assert not report.clean
    assert all(ctx.blobs.exists(key) for key in orphans), "without repair nothing is deleted"
    fsck(ctx, FsckStores.of(ctx), repair=True, grace=NOW)
    assert not any(ctx.blobs.exists(key) for key in orphans)
    assert ctx.blobs.exists(rendition_key(kept, "w256"))
    after = fsck(ctx, FsckStores.of(ctx), grace=NOW)
    assert after.clean and after.renditions == 1, after


def test_an_image_removed_for_its_missing_object_takes_its_renditions(ctx: Context) -> None:
    broken, healthy = upload(ctx), upload(ctx)
    add_renditions(ctx, broken, "w256", "w512")
    add_renditions(ctx, healthy, "w256")
    ctx.blobs.delete(ctx.catalog.get(broken).blob_key)
    report = fsck(ctx, FsckStores.of(ctx), repair=True, grace=NOW)
    assert (report.missing_objects, report.renditions) == ([broken], 3)
    assert under(ctx, rendition_prefix(broken)) == []
    after = fsck(ctx, FsckStores.of(ctx), grace=NOW)
    assert after.clean and after.renditions == 1, after


@pytest.mark.parametrize("backend", ["local", "aws"])
def test_the_cli_reports_and_repairs_renditions(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "IMAGE_SERVICE_DATA_DIR": str(tmp_path / "data")}
    if backend == "aws":
        env |= fresh_resources().env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from image_service.bootstrap import bootstrap

    ctx = bootstrap()
    add_renditions(ctx, upload(ctx), "w256", "w512")
    add_renditions(ctx, "gone-image", "w256")
    exe = Path(sys.executable).with_name("image-service")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe), "fsck", *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    found = run("--grace", "0")
    assert found.returncode == 1, found.stderr
    assert "checked 1 images and 4 objects" in found.stdout
    assert "renditions: 2" in found.stdout
    assert "found 1 renditions without their image" in found.stdout
    assert "found 0 objects without metadata" in found.stdout
    repaired = run("--repair", "--grace", "0")
    assert repaired.returncode == 0, repaired.stderr
    assert "removed 1 renditions without their image" in repaired.stdout
    clean = run("--grace", "0")
    assert clean.returncode == 0, clean.stdout
    assert "renditions: 2" in clean.stdout
