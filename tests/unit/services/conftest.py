"""Services against the shipped in-memory fakes, with a clock and ids the tests control."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image as PILImage

from image_service.adapters.local_urls import LocalUrlSigner
from image_service.adapters.memory import InMemoryBlobStore, InMemoryIdempotencyStore, InMemoryImageCatalog
from image_service.domain.models import Caller, Image
from image_service.domain.signing import Signer
from image_service.services.context import Context
from image_service.services.uploads import UploadDraft, upload_images

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
        "keys": catalog,
        "urls": LocalUrlSigner(signer),
        "signer": signer,
        "idempotency": InMemoryIdempotencyStore(),
        "now": clock or Clock(),
        "new_id": Ids(),
    }
    values.update(changes)
    return Context(**values)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(clock: Clock) -> Context:
    return make_context(clock=clock)


@pytest.fixture(scope="session")
def png() -> Callable[..., bytes]:
    """``png(shade)``: a tiny, valid PNG; different shades give different bytes."""

    def encode(shade: int = 0, size: tuple[int, int] = (3, 2)) -> bytes:
        buffer = io.BytesIO()
        PILImage.new("RGB", size, (shade % 256, 80, 160)).save(buffer, "PNG")
        return buffer.getvalue()

    return encode


@pytest.fixture
def upload(ctx: Context, clock: Clock, png: Callable[..., bytes]) -> Callable[..., Image]:
    """``upload(user, **metadata)``: one image uploaded by ``user`` one second after the last."""

    def do(user: str, **metadata: Any) -> Image:
        clock.advance(1)
        [image] = upload_images(ctx, Caller(user_id=user), [UploadDraft(data=png(), **metadata)])
        return image

    return do


@pytest.fixture
def context_on(clock: Clock) -> Callable[..., Context]:
    """``context_on(blobs, catalog)``: a Context whose ports are the given (wrapped) fakes; every
    context made by one test shares the clock and the id sequence."""
    ids = Ids()
    return lambda blobs=None, catalog=None: make_context(blobs, catalog, clock=clock, new_id=ids)
