"""api/serialize.image_json: the wire shape of an image is ImageOut's, field for field."""

from __future__ import annotations

from datetime import UTC, datetime

from image_service.api.schemas import ImageOut
from image_service.api.serialize import image_json
from image_service.domain.models import Image, Visibility

AT = datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)


def image(**changes: object) -> Image:
    values: dict[str, object] = {
        "image_id": "id-1",
        "user_id": "alice",
        "name": "cat.png",
        "filename": "cat.png",
        "content_type": "image/png",
        "format": "PNG",
        "width": 4,
        "height": 3,
        "size": 99,
        "checksum_sha256": "ab" * 32,
        "blob_key": "alice/id-1",
        "created_at": AT,
        "updated_at": AT,
        "tags": ("a", "b"),
        "category": "pets",
        "visibility": Visibility.PRIVATE,
        "orientation": 6,
        "access_count": 2,
        "last_accessed_at": AT,
    }
    return Image(**(values | changes))  # type: ignore[arg-type]


def test_every_field_of_image_out_in_its_order() -> None:
    answer = image_json(image())
    assert list(answer) == list(ImageOut.model_fields)
    assert ImageOut.model_validate(answer).model_dump() == answer


def test_values_json_cannot_carry_are_converted() -> None:
    answer = image_json(image())
    assert (answer["tags"], answer["visibility"]) == (["a", "b"], "private")
    times = {answer[name] for name in ("created_at", "updated_at", "last_accessed_at")}
    assert times == {"2026-01-02T03:04:05.678Z"}
    assert image_json(image(last_accessed_at=None))["last_accessed_at"] is None
