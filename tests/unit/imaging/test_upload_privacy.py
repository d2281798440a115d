"""Privacy and the frame limit wired into uploads (services on the shipped in-memory fakes).

The stored original loses its GPS; its size, checksum and ETag describe the stored bytes; direct
uploads store the stripped bytes under the image's key too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from urllib.parse import parse_qs, urlsplit

import pytest
from fakes import make_context
from PIL import Image as PILImage

from image_service.domain.errors import PayloadTooLarge
from image_service.domain.models import Caller
from image_service.services.context import Context, Limits
from image_service.services.direct_uploads import complete_direct_upload, receive_upload, start_direct_upload
from image_service.services.uploads import UploadDraft, upload_images

ALICE = Caller(user_id="alice")
GPS_IFD = 0x8825


def located_jpeg() -> bytes:
    tags = PILImage.Exif()
    tags[0x0112] = 3
    tags[GPS_IFD] = {1: "N", 2: (46.0, 31.0, 0.0), 3: "E", 4: (6.0, 38.0, 0.0)}
    buffer = io.BytesIO()
    PILImage.new("RGB", (24, 16), (30, 120, 200)).save(buffer, "JPEG", exif=tags, quality=90)
    return buffer.getvalue()


def context(mode: str = "location", **limits: int) -> Context:
    return make_context(limits=dataclasses.replace(Limits(), strip_metadata=mode, **limits))


def read(data: bytes) -> tuple[dict[int, object], int | None, bytes]:
    with PILImage.open(io.BytesIO(data)) as img:
        tags = img.getexif()
        return dict(tags.get_ifd(GPS_IFD)), tags.get(0x0112), img.tobytes()


def test_upload_stores_the_original_without_its_location() -> None:
    ctx, data = context(), located_jpeg()
    [image] = upload_images(ctx, ALICE, [UploadDraft(data=data)])
    stored = ctx.blobs.get(image.blob_key)
    assert stored != data
    gps, orientation, pixels = read(stored)
    assert gps == {} and orientation == 3
    assert pixels == read(data)[2]
    assert image.size == len(stored)
    assert image.checksum_sha256 == hashlib.sha256(stored).hexdigest()
    assert image.orientation == 3


@pytest.mark.parametrize(("mode", "same"), [("none", True), ("all", False)])
def test_the_strip_setting_is_applied(mode: str, same: bool) -> None:
    ctx, data = context(mode), located_jpeg()
    [image] = upload_images(ctx, ALICE, [UploadDraft(data=data)])
    stored = ctx.blobs.get(image.blob_key)
    assert (stored == data) is same
    assert image.checksum_sha256 == hashlib.sha256(stored).hexdigest()
    if mode == "all":
        with PILImage.open(io.BytesIO(stored)) as img:
            assert dict(img.getexif()) == {0x0112: 3}


def test_direct_upload_stores_the_stripped_bytes() -> None:
    ctx, data = context(), located_jpeg()
    pending, target = start_direct_upload(
        ctx, ALICE, UploadDraft(data=b""), content_type="image/jpeg", size=len(data)
    )
    query = parse_qs(urlsplit(target.url).query)
    receive_upload(
        ctx, pending.image_id, expires=int(query["expires"][0]), signature=query["signature"][0], data=data
    )
    image = complete_direct_upload(ctx, ALICE, pending.image_id)
    stored = ctx.blobs.get(image.blob_key)
    assert read(stored)[0] == {}
    assert (image.size, image.checksum_sha256) == (len(stored), hashlib.sha256(stored).hexdigest())


def test_upload_refuses_more_frames_than_the_limit() -> None:
    frames = [PILImage.new("RGB", (8, 8), (shade, 0, 0)) for shade in (0, 100, 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    ctx = context(max_image_frames=2)
    with pytest.raises(PayloadTooLarge, match="more than 2 frames"):
        upload_images(ctx, ALICE, [UploadDraft(data=buffer.getvalue())])
    [image] = upload_images(context(max_image_frames=3), ALICE, [UploadDraft(data=buffer.getvalue())])
    assert image.format == "GIF"
