"""fsck: find what a crash or a failed cleanup left behind, on either backend, and repair it.

Three kinds of damage, each a consequence of the write order the services keep (object before
metadata on upload, metadata before object on delete):

- an **orphan object**: bytes no image and no live pending upload points at (a crash between
  the object write and the metadata write, or a delete whose object removal failed). Invisible
  to readers; repair deletes it. Objects younger than ``grace`` are left alone (and counted in
  the report): they may belong to an upload whose metadata is being written right now. A zero
  grace spares nothing, for a check right after a crash with no server running.
- a **missing object**: an image whose bytes are gone (lost or deleted by hand). Its content
  would be 404 forever; repair removes the metadata.
- a **stale pending upload**: a direct upload past its expiry. Repair deletes its bytes and record.
- an **orphan rendition**: a rendition object (``domain.renditions``) whose image is gone (a
  delete whose rendition removal failed, or a rendition finished after its image was deleted).
  Repair deletes it, with the same grace as orphan objects. Renditions of existing images are
  healthy and counted apart (``renditions``).

Reading everything is a Scan on DynamoDB and a full read on SQLite: fsck is an offline tool,
never on a request path.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

from image_service.domain.errors import NotFound
from image_service.domain.models import Image
from image_service.domain.renditions import RENDITIONS_PREFIX, rendition_prefix
from image_service.ports import BlobInventory, ImageInventory, PendingInventory
from image_service.services.context import Context
from image_service.services.direct_uploads import sweep_expired

DEFAULT_GRACE = timedelta(hours=1)


@dataclass
class FsckReport:
    images: int = 0
    objects: int = 0  # every object listed, renditions included
    renditions: int = 0  # rendition objects of existing images
    orphan_objects: list[str] = field(default_factory=list)
    orphan_renditions: list[str] = field(default_factory=list)  # refs, as orphan_objects
    missing_objects: list[str] = field(default_factory=list)  # image ids
    stale_pending: list[str] = field(default_factory=list)  # image ids
    # Unreferenced objects younger than the grace period: not reported as orphans (they may be
    # uploads in flight), but counted, so that "clean" right after a crash cannot mislead.
    young_unreferenced: int = 0
    repaired: bool = False

    @property
    def clean(self) -> bool:
        return not (
            self.orphan_objects or self.orphan_renditions or self.missing_objects or self.stale_pending
        )


@dataclass(frozen=True, slots=True)
class FsckStores:
    """The context's own blob store, catalog and pending uploads, seen through the fsck ports:
    what fsck reads beyond the request ports (which it reaches through the context)."""

    blobs: BlobInventory
    images: ImageInventory
    pending: PendingInventory

    @classmethod
    def of(cls, ctx: Context) -> FsckStores:
        """TypeError if an adapter of ``ctx`` lacks its fsck port (every shipped adapter has it)."""
        blobs, images, pending = ctx.blobs, ctx.catalog, ctx.pending
        if not (
            isinstance(blobs, BlobInventory)
            and isinstance(images, ImageInventory)
            and isinstance(pending, PendingInventory)
        ):
            raise TypeError("fsck needs adapters with the fsck ports (ports.BlobInventory and the others)")
        return cls(blobs, images, pending)


def fsck(
    ctx: Context, stores: FsckStores, *, repair: bool = False, grace: timedelta = DEFAULT_GRACE
) -> FsckReport:
    """``stores``: the adapters of ``ctx`` (``FsckStores.of(ctx)``)."""
    now = ctx.now()
    report = FsckReport(repaired=repair)
    # Metadata first, then objects: an image written meanwhile has its object already (objects
    # are written first), and anything newer than `grace` is spared anyway.
    images = list(stores.images.all_images())
    pending = list(stores.pending.all_pending())
    report.images = len(images)
    blobs = stores.blobs
    referenced = {blobs.ref(image.blob_key): image for image in images}
    live_pending = {blobs.ref(p.blob_key) for p in pending if p.expires_at >= now}
    report.stale_pending = sorted(p.image_id for p in pending if p.expires_at < now)
    stale_refs = {blobs.ref(p.blob_key) for p in pending if p.expires_at < now}

    renditions = _Renditions(blobs, images)

    stored: set[str] = set()
    for blob in blobs.inventory():
        report.objects += 1
        stored.add(blob.ref)
        known = blob.ref in referenced or blob.ref in live_pending or blob.ref in stale_refs
        if known:
            continue
        is_rendition = renditions.holds(blob.ref)
        if is_rendition and renditions.of_existing_image(blob.ref):
            report.renditions += 1
        # With no grace, no age test: the catalog's clock has millisecond resolution and file
        # times have microseconds, so an object written this millisecond would look younger
        # than "now" and be spared.
        elif grace > timedelta(0) and blob.modified > now - grace:
            report.young_unreferenced += 1
        elif is_rendition:
            report.orphan_renditions.append(blob.ref)
        else:
            report.orphan_objects.append(blob.ref)

    for ref, image in referenced.items():
        if ref not in stored and _still_missing(ctx, blobs, image.image_id, image.blob_key):
            report.missing_objects.append(image.image_id)
    report.missing_objects.sort()

    if repair:
        _repair(ctx, blobs, report)
    return report


class _Renditions:
    """Which refs are renditions, and whose: by the folder refs of the images listed, since a
    ref need not spell the image id (the filesystem hashes it)."""

    def __init__(self, blobs: BlobInventory, images: list[Image]) -> None:
        self.namespace = blobs.folder_ref(RENDITIONS_PREFIX)
        self.folders = {blobs.folder_ref(rendition_prefix(image.image_id)) for image in images}

    def holds(self, ref: str) -> bool:
        return ref.startswith(self.namespace)

    def of_existing_image(self, ref: str) -> bool:
        # The image's folder is one of the ref's starts that end in "/": a few lookups per ref.
        end = ref.find("/", len(self.namespace))
        while end != -1:
            if ref[: end + 1] in self.folders:
                return True
            end = ref.find("/", end + 1)
        return False


def _still_missing(ctx: Context, blobs: BlobInventory, image_id: str, key: str) -> bool:
    """Re-check one candidate: the image may have been deleted since it was listed."""
    try:
        ctx.catalog.get(image_id)
    except NotFound:
        return False
    return not blobs.exists(key)


def _repair(ctx: Context, blobs: BlobInventory, report: FsckReport) -> None:
    for ref in [*report.orphan_objects, *report.orphan_renditions]:
        blobs.delete_ref(ref)
    for image_id in report.missing_objects:
        with contextlib.suppress(NotFound):  # deleted meanwhile: nothing left to repair
            ctx.catalog.remove(image_id)
        # Its renditions would be orphans from now on: they go with the metadata, as on delete.
        ctx.blobs.delete_prefix(rendition_prefix(image_id))
    if report.stale_pending:
        # In batches; a batch that removes nothing (its deletes failed) ends the loop.
        while sweep_expired(ctx, limit=100):
            pass
