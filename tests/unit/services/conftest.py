"""Services against the shipped in-memory fakes, with a clock and ids the tests control (fakes.py)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from fakes import Clock, Ids, make_context
from PIL import Image as PILImage

from image_service.domain.models import Caller, Image
from image_service.services.context import Context
from image_service.services.uploads import UploadDraft, upload_images


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
