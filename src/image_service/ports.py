"""The ports the services need. Adapters implement them; nothing here knows a vendor.

Adapters are named ``<Tech><Port>``: FilesystemBlobStore, SqliteImageCatalog, InMemoryBlobStore,
and, for the AWS backend, S3BlobStore and DynamoDBImageCatalog.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

from image_service.domain.models import (
    ApiKey,
    IdempotencyRecord,
    Image,
    ImageQuery,
    Keyset,
    Page,
    PendingUpload,
    StoredBlob,
    UploadTarget,
)

# Accesses recorded at once (``ImageCatalog.record_accesses``): image id -> (how many, the latest).
Accesses = Mapping[str, tuple[int, datetime]]


class BlobStore(Protocol):
    """Image bytes by storage key. Keys are made by the service, never taken from clients."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` atomically: a reader sees all of it or nothing."""

    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        """The bytes, or the inclusive range ``start..end``; NotFound if missing."""

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""

    def put_new(self, key: str, data: bytes, content_type: str) -> bool:
        """Store ``data`` only if no object exists under ``key``, atomically across processes:
        True when this call stored it, False when one existed (it is kept unchanged). Of
        concurrent calls on one key, exactly one returns True."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; how many were deleted (0 when
        none). ``prefix`` names a folder, ``~<namespace>/<folder>/`` or ``~<namespace>/``, as
        the service makes them (domain.renditions); ValueError for an empty prefix, and a store
        may refuse any other (the filesystem lays out only those as directories)."""

    def ping(self) -> None:
        """Raise BackendUnavailable unless the store answers."""


class ImageCatalog(Protocol):
    """Image metadata with its indexes. Names are unique; writes are atomic per image."""

    def add(self, image: Image) -> None:
        """Insert; Conflict if ``name`` is taken (or ``image_id`` exists)."""

    def get(self, image_id: str) -> Image:
        """NotFound if absent."""

    def get_by_name(self, name: str) -> Image:
        """NotFound if absent."""

    def update(self, image: Image) -> None:
        """Replace metadata of an existing image (NotFound / Conflict on a taken name)."""

    def remove(self, image_id: str) -> Image:
        """Delete the image and its index entries; return what was removed; NotFound if absent."""

    def find(self, query: ImageQuery, limit: int, after: Keyset | None = None) -> Page:
        """Newest first; at most ``limit`` images; ``next`` set only if more match."""

    def record_access(self, image_id: str, at: datetime) -> Image:
        """Atomically add one to ``access_count`` and set ``last_accessed_at``."""

    def record_accesses(self, accesses: Accesses) -> dict[str, tuple[int, datetime]]:
        """Add each count to its image's ``access_count`` atomically and move ``last_accessed_at``
        to its time unless a later one is stored; an image that no longer exists is skipped (and
        never recreated). Returns the accesses left unrecorded when the backend failed part-way
        (each image's write is all or nothing, so they can be retried as they are); raises
        BackendUnavailable when it recorded none."""

    def ping(self) -> None:
        """Raise BackendUnavailable unless the catalog answers."""


class KeyStore(Protocol):
    """API keys, stored only as hashes."""

    def add_key(self, key: ApiKey) -> None: ...

    def find_key(self, key_hash: str) -> ApiKey | None:
        """The active (not revoked) key with this hash, if any."""

    def list_keys(self) -> list[ApiKey]: ...

    def revoke_key(self, key_id: str, at: datetime) -> None:
        """NotFound if there is no such key."""


class UrlSigner(Protocol):
    """Expiring URLs that fetch an image's bytes without credentials."""

    def presign(self, image: Image, *, expires_in: int, download: bool, now: datetime) -> str:
        """A URL (absolute, or a path the API makes absolute) valid for ``expires_in`` seconds."""

    def verify(self, image_id: str, *, expires: int, download: bool, signature: str, now: datetime) -> bool:
        """True only for an unaltered, unexpired URL made by ``presign``."""

    def presign_upload(self, pending: PendingUpload, *, now: datetime) -> UploadTarget:
        """Where and how the client sends the bytes of a direct upload, valid until it expires."""

    def verify_upload(self, image_id: str, *, expires: int, signature: str, now: datetime) -> bool:
        """True only for an unaltered, unexpired upload URL (when the service receives the bytes)."""

    def service_url(self, path: str) -> str:
        """The service's own URL of ``path`` (a path with its query): absolute when the public
        base URL is known, else the path, which the API makes absolute."""

    def presign_blob(self, key: str, *, content_type: str, disposition: str, expires_in: int) -> str | None:
        """A URL that fetches the object under ``key`` from storage itself, answered with these
        headers; None when storage has no URLs of its own (the service serves the bytes)."""


class PendingUploads(Protocol):
    """Direct uploads between their start and their completion."""

    def add_pending(self, pending: PendingUpload) -> None: ...

    def get_pending(self, image_id: str) -> PendingUpload:
        """NotFound if absent."""

    def remove_pending(self, image_id: str) -> None:
        """Removing a missing one is not an error."""

    def expired_pending(self, now: datetime, limit: int = 100) -> list[PendingUpload]: ...


class IdempotencyStore(Protocol):
    """``Idempotency-Key`` records by (user, key). A record past its ``expires_at`` counts as
    absent; only the attempt whose ``token`` holds a record may complete or release it."""

    def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        """Store ``record`` unless a live record has its (user, key): None when stored, else
        that record. Atomic: of concurrent claims of one key, exactly one gets None."""

    def take_over(self, stale: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        """Replace ``stale`` (unfinished) with ``record``; False if it is no longer held by
        ``stale.token`` or got its answer meanwhile."""

    def complete(self, record: IdempotencyRecord) -> None:
        """Save ``record`` with its answer, if ``record.token`` still holds the key."""

    def release(self, record: IdempotencyRecord) -> None:
        """Delete the record, if ``record.token`` still holds it (the request failed)."""


# fsck (offline repair) reads whole stores and deletes what no image points at. No request needs
# that, so the request ports above leave it out; every adapter implements both, and fsck sees the
# same adapters through these (services.fsck.FsckStores). Runtime-checkable so that FsckStores
# can check, once, that the context's adapters have them.


@runtime_checkable
class BlobInventory(Protocol):
    """The objects of a BlobStore as storage lists them, by an opaque ``ref``."""

    def exists(self, key: str) -> bool: ...

    def ref(self, key: str) -> str:
        """The name ``inventory`` lists the object of ``key`` under."""

    def folder_ref(self, prefix: str) -> str:
        """What the ref of every object under the folder ``prefix`` (as ``delete_prefix`` takes
        it) starts with, and no other object's ref."""

    def inventory(self) -> Iterator[StoredBlob]:
        """Every stored object, including ones no image points at."""

    def delete_ref(self, ref: str) -> None:
        """Delete an object by the name ``inventory`` gave it."""


@runtime_checkable
class ImageInventory(Protocol):
    """Every image of an ImageCatalog."""

    def all_images(self) -> Iterator[Image]:
        """Every image, in no particular order."""


@runtime_checkable
class PendingInventory(Protocol):
    """Every direct upload of a PendingUploads."""

    def all_pending(self) -> Iterator[PendingUpload]:
        """Every pending upload, expired or not."""
