"""What every use case is handed: the ports plus the few values that shape behaviour."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from image_service.domain.models import utcnow
from image_service.domain.signing import Signer
from image_service.ports import BlobStore, IdempotencyStore, ImageCatalog, KeyStore, PendingUploads, UrlSigner
from image_service.services.access_counts import GroupedAccessCounts


@dataclass(frozen=True, slots=True)
class Limits:
    max_image_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    default_url_expiry: int = 3600
    max_url_expiry: int = 7 * 24 * 3600
    direct_upload_expiry: int = 3600
    # Content bigger than this is answered with a 302 to a presigned URL instead of the bytes
    # (behind Lambda, whose responses are capped at 6 MB); None serves everything inline.
    max_inline_bytes: int | None = None
    # Idempotency-Key: how long a key's first answer is kept; how long an attempt may hold a key
    # before a retry may take over (longer than any request runs: Lambda stops at 30 s); how long
    # a retry waits for a concurrent attempt with its key before answering 409.
    idempotency_ttl: int = 24 * 3600
    idempotency_lease: int = 60
    idempotency_wait: float = 5.0
    # Imaging (issue 15): frames an animation may have; what leaves an uploaded original
    # ("location" | "all" | "none"); the rendition sizes a client may ask for; AVIF for
    # format=auto; pixels decoded at once in the process (the memory budget).
    max_image_frames: int = 1000
    strip_metadata: str = "location"
    rendition_sizes: tuple[int, ...] = (64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096)
    auto_avif: bool = False
    pixel_budget: int = 100_000_000


def new_image_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Context:
    blobs: BlobStore
    catalog: ImageCatalog
    keys: KeyStore
    urls: UrlSigner
    signer: Signer
    idempotency: IdempotencyStore
    pending: PendingUploads  # direct uploads
    limits: Limits = field(default_factory=Limits)
    now: Callable[[], datetime] = utcnow
    new_id: Callable[[], str] = new_image_id
    # Names an image may not take because a route of the service answers ``/<name>`` (filled in
    # by the app from its routes, so a route added later reserves its name too).
    reserved_names: frozenset[str] = frozenset()
    # A server process groups access counts into batches (services.access_counts); None writes
    # each access as it happens (Lambda, the CLI, tests on fakes).
    access_counts: GroupedAccessCounts | None = None

    def settle_accesses(self) -> None:
        """Before a metadata read: write this process's pending access counts, so that the read
        shows every access it acknowledged (free when nothing is pending)."""
        if self.access_counts is not None:
            self.access_counts.settle()
