"""A clock and ids the tests control, and a Context on the shipped in-memory fakes: the services'
tests (tests/unit/services) and anything else that runs a service without a backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from image_service.adapters.local_urls import LocalUrlSigner
from image_service.adapters.memory import (
    InMemoryBlobStore,
    InMemoryIdempotencyStore,
    InMemoryImageCatalog,
    InMemoryKeyStore,
    InMemoryPendingUploads,
)
from image_service.domain.signing import Signer
from image_service.services.context import Context

SECRET = b"x" * 32
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: datetime = START) -> None:
        self.value = now

    def __call__(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


class Ids:
    """Predictable image ids: id-0001, id-0002, ..."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"id-{self.count:04d}"


def make_context(
    blobs: Any = None, catalog: Any = None, *, clock: Clock | None = None, **changes: Any
) -> Context:
    """A Context on fresh fakes; ``blobs``/``catalog`` may be wrappers around them."""
    catalog = InMemoryImageCatalog() if catalog is None else catalog
    signer = Signer(SECRET)
    values: dict[str, Any] = {
        "blobs": InMemoryBlobStore() if blobs is None else blobs,
        "catalog": catalog,
        "keys": InMemoryKeyStore(),
        "urls": LocalUrlSigner(signer),
        "signer": signer,
        "idempotency": InMemoryIdempotencyStore(),
        "pending": InMemoryPendingUploads(),
        "now": clock or Clock(),
        "new_id": Ids(),
    }
    values.update(changes)
    return Context(**values)
