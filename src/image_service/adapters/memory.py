"""In-memory adapters: fakes that ship with the package, for unit tests and experiments.

They honour the same contracts as the real adapters (the contract suites run against them),
including the newest-first keyset order and atomic access counting.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from image_service.domain.errors import Conflict, NotFound
from image_service.domain.models import (
    ApiKey,
    IdempotencyRecord,
    Image,
    ImageQuery,
    Keyset,
    Page,
    PendingUpload,
    StoredBlob,
)
from image_service.ports import Accesses


class InMemoryBlobStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.modified: dict[str, datetime] = {}  # set by tests that need young objects
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = (bytes(data), content_type)

    def put_new(self, key: str, data: bytes, content_type: str) -> bool:
        with self._lock:
            if key in self.objects:
                return False
            self.objects[key] = (bytes(data), content_type)
            return True

    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        try:
            data = self.objects[key][0]
        except KeyError:
            raise NotFound("blob not found") from None
        if start is None:
            return data
        return data[start : (end + 1 if end is not None else None)]

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise ValueError("an empty prefix would name every object")
        with self._lock:
            doomed = [key for key in self.objects if key.startswith(prefix)]
            for key in doomed:
                del self.objects[key]
            return len(doomed)

    def exists(self, key: str) -> bool:
        return key in self.objects

    def ref(self, key: str) -> str:
        return key

    def folder_ref(self, prefix: str) -> str:
        return prefix

    def inventory(self) -> Iterator[StoredBlob]:
        for key, (data, _) in list(self.objects.items()):
            yield StoredBlob(key, self.modified.get(key, datetime.min.replace(tzinfo=UTC)), len(data))

    def delete_ref(self, ref: str) -> None:
        self.delete(ref)

    def ping(self) -> None:
        return None


class InMemoryImageCatalog:
    def __init__(self) -> None:
        self.images: dict[str, Image] = {}
        self._lock = threading.Lock()

    def add(self, image: Image) -> None:
        with self._lock:
            if image.image_id in self.images or any(i.name == image.name for i in self.images.values()):
                raise Conflict(f"name '{image.name}' is already taken")
            self.images[image.image_id] = image

    def get(self, image_id: str) -> Image:
        try:
            return self.images[image_id]
        except KeyError:
            raise NotFound("image not found") from None

    def get_by_name(self, name: str) -> Image:
        for image in self.images.values():
            if image.name == name:
                return image
        raise NotFound("image not found")

    def update(self, image: Image) -> None:
        with self._lock:
            if image.image_id not in self.images:
                raise NotFound("image not found")
            if any(i.name == image.name and i.image_id != image.image_id for i in self.images.values()):
                raise Conflict(f"name '{image.name}' is already taken")
            # Access counts belong to record_access; keep the ones counted since ``image`` was read.
            current = self.images[image.image_id]
            self.images[image.image_id] = dataclasses.replace(
                image, access_count=current.access_count, last_accessed_at=current.last_accessed_at
            )

    def remove(self, image_id: str) -> Image:
        with self._lock:
            try:
                return self.images.pop(image_id)
            except KeyError:
                raise NotFound("image not found") from None

    def find(self, query: ImageQuery, limit: int, after: Keyset | None = None) -> Page:
        canonical = query.canonical()  # what every catalog plans; matches what ``query`` matches
        if canonical is None:
            return Page()
        ordered = sorted(
            (i for i in self.images.values() if canonical.matches(i)),
            key=lambda i: (i.created_at, i.image_id),
            reverse=True,
        )
        if after is not None:
            ordered = [i for i in ordered if (i.created_at, i.image_id) < (after.created_at, after.image_id)]
        page = ordered[:limit]
        more = len(ordered) > limit
        return Page(page, Keyset(page[-1].created_at, page[-1].image_id) if more else None)

    def record_access(self, image_id: str, at: datetime) -> Image:
        with self._lock:
            image = self.get(image_id)
            updated = dataclasses.replace(image, access_count=image.access_count + 1, last_accessed_at=at)
            self.images[image_id] = updated
            return updated

    def record_accesses(self, accesses: Accesses) -> dict[str, tuple[int, datetime]]:
        with self._lock:
            for image_id, (count, at) in accesses.items():
                image = self.images.get(image_id)
                if image is None:
                    continue  # deleted since it was counted
                latest = at if image.last_accessed_at is None else max(image.last_accessed_at, at)
                self.images[image_id] = dataclasses.replace(
                    image, access_count=image.access_count + count, last_accessed_at=latest
                )
        return {}

    def ping(self) -> None:
        return None

    def all_images(self) -> Iterator[Image]:
        with self._lock:
            return iter(list(self.images.values()))


class InMemoryKeyStore:
    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}

    def add_key(self, key: ApiKey) -> None:
        self.keys[key.key_id] = key

    def find_key(self, key_hash: str) -> ApiKey | None:
        return next((k for k in self.keys.values() if k.key_hash == key_hash and k.revoked_at is None), None)

    def list_keys(self) -> list[ApiKey]:
        return sorted(self.keys.values(), key=lambda k: k.created_at)

    def revoke_key(self, key_id: str, at: datetime) -> None:
        try:
            self.keys[key_id] = dataclasses.replace(self.keys[key_id], revoked_at=at)
        except KeyError:
            raise NotFound("no such key") from None


class InMemoryPendingUploads:
    def __init__(self) -> None:
        self.pending: dict[str, PendingUpload] = {}

    def add_pending(self, pending: PendingUpload) -> None:
        self.pending[pending.image_id] = pending

    def get_pending(self, image_id: str) -> PendingUpload:
        try:
            return self.pending[image_id]
        except KeyError:
            raise NotFound("no such pending upload") from None

    def remove_pending(self, image_id: str) -> None:
        self.pending.pop(image_id, None)

    def expired_pending(self, now: datetime, limit: int = 100) -> list[PendingUpload]:
        expired = sorted((p for p in self.pending.values() if p.expires_at < now), key=lambda p: p.expires_at)
        return expired[:limit]

    def all_pending(self) -> Iterator[PendingUpload]:
        return iter(list(self.pending.values()))


class InMemoryIdempotencyStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], IdempotencyRecord] = {}
        self._lock = threading.Lock()

    def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        with self._lock:
            held = self.records.get((record.user_id, record.key))
            if held is not None and held.expires_at > now:
                return held
            self.records[(record.user_id, record.key)] = record
            return None

    def take_over(self, stale: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        with self._lock:
            if not self._held_by(stale) or self.records[(stale.user_id, stale.key)].done:
                return False
            self.records[(record.user_id, record.key)] = record
            return True

    def complete(self, record: IdempotencyRecord) -> None:
        with self._lock:
            if self._held_by(record):
                self.records[(record.user_id, record.key)] = record

    def release(self, record: IdempotencyRecord) -> None:
        with self._lock:
            if self._held_by(record):
                del self.records[(record.user_id, record.key)]

    def _held_by(self, record: IdempotencyRecord) -> bool:
        held = self.records.get((record.user_id, record.key))
        return held is not None and held.token == record.token
