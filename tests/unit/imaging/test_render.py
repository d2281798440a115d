"""The rendition maker: sizes, fit, never enlarging, upright, sRGB, no metadata, first frame."""

from __future__ import annotations

import io
import threading

import pytest
import pyvips
from PIL import Image, ImageCms

from image_service.domain.errors import InvalidInput, UnsupportedMediaType
from image_service.imaging.budget import PixelBudget
from image_service.imaging.render import ENGINE_SETTINGS, Rendered, RenderSpec, render, sniff_content_type

RED, BLUE, GREEN = (220, 20, 20), (20, 20, 220), (20, 200, 20)


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def halves(size: tuple[int, int] = (400, 200)) -> Image.Image:
    """Red on the left half, blue on the right: shows orientation and cropping."""
    img = Image.new("RGB", size, RED)
    img.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return img


def decoded(rendered: Rendered) -> Image.Image:
    img = Image.open(io.BytesIO(rendered.data))
    img.load()
    return img


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 30) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


JPEG = encode(halves(), "JPEG", quality=95)


@pytest.mark.parametrize(
    ("spec", "size"),
    [
        pytest.param(RenderSpec(100, None), (100, 50), id="width-only"),
        pytest.param(RenderSpec(None, 50), (100, 50), id="height-only"),
        pytest.param(RenderSpec(100, 100), (100, 50), id="inside-wide-box"),
        pytest.param(RenderSpec(300, 60), (120, 60), id="inside-height-bound"),
        pytest.param(RenderSpec(1024, 1024), (400, 200), id="never-enlarge"),
        pytest.param(RenderSpec(64, 64, fit="cover"), (64, 64), id="cover"),
        pytest.param(RenderSpec(300, 40, fit="cover"), (300, 40), id="cover-wide"),
        pytest.param(RenderSpec(512, 512, fit="cover"), (200, 200), id="cover-never-enlarge"),
        pytest.param(RenderSpec(800, 100, fit="cover"), (400, 50), id="cover-never-enlarge-wide"),
    ],
)
def test_sizes_and_fit(spec: RenderSpec, size: tuple[int, int]) -> None:
    rendered = render(JPEG, spec)
    assert (rendered.width, rendered.height) == size
    assert decoded(rendered).size == size


def test_cover_crops_around_the_centre() -> None:
    img = Image.new("RGB", (300, 100), GREEN)
    img.paste(RED, (100, 0, 200, 100))  # the centre third is red
    rendered = decoded(render(encode(img, "PNG"), RenderSpec(64, 64, fit="cover")))
    for x, y in ((2, 2), (61, 2), (32, 32), (2, 61)):
        assert close(rendered.getpixel((x, y)), RED)


@pytest.mark.parametrize(
    ("orientation", "size", "left"),
    [(1, (100, 50), RED), (3, (100, 50), BLUE), (6, (50, 100), None), (8, (50, 100), None)],
)
def test_orientation_is_applied(
    orientation: int, size: tuple[int, int], left: tuple[int, int, int] | None
) -> None:
    tags = Image.Exif()
    tags[0x0112] = orientation
    rendered = decoded(render(encode(halves(), "JPEG", quality=95, exif=tags), RenderSpec(100, 100)))
    assert rendered.size == size
    if left is not None:
        assert close(rendered.getpixel((5, 25)), left)
    else:  # rotated a quarter turn: red on top for 6 (clockwise), at the bottom for 8
        top, bottom = rendered.getpixel((25, 5)), rendered.getpixel((25, 95))
        assert (close(top, RED), close(bottom, BLUE)) == (
            (True, True) if orientation == 6 else (False, False)
        )
    assert dict(rendered.getexif()) == {}


def test_no_metadata_in_the_output() -> None:
    tags = Image.Exif()
    tags[0x0112] = 6
    tags[0x010F] = "Camera"
    tags[0x8825] = {1: "N", 2: (46.0, 31.0, 0.0)}
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = encode(
        halves(), "JPEG", exif=tags, icc_profile=icc, xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    )
    for fmt in ("jpeg", "png", "webp", "avif"):
        rendered = decoded(render(original, RenderSpec(64, 64, format=fmt)))
        assert dict(rendered.getexif()) == {}
        assert not {"icc_profile", "exif", "xmp", "XML:com.adobe.xmp"} & set(rendered.info), fmt


def test_colour_profile_is_converted_to_srgb() -> None:
    # A CMYK JPEG without a profile (libvips' CMYK fallback) comes out as RGB, the colour it names.
    cmyk = Image.new("CMYK", (80, 60), (0, 255, 255, 0))  # pure magenta + yellow: red
    rendered = decoded(render(encode(cmyk, "JPEG", quality=95), RenderSpec(40, 40)))
    assert rendered.mode == "RGB"
    red, green, blue = rendered.getpixel((10, 10))
    assert red > 180 and green < 90 and blue < 90


def test_embedded_icc_profile_is_applied() -> None:
    # Pixels in Display P3 with the P3 profile embedded come out as the sRGB colour they mean;
    # the same numbers without a profile are taken as sRGB already (Pillow has no P3 profile to
    # embed, libvips ships one).
    base = pyvips.Image.black(64, 64).new_from_image([40, 200, 40])
    p3 = base.copy(interpretation="srgb").icc_transform("p3", input_profile="srgb")
    tagged = p3.write_to_buffer(".png")  # pixels in P3, profile P3 embedded
    untagged = p3.write_to_buffer(".png", keep=pyvips.ForeignKeep.NONE)
    as_srgb = decoded(render(tagged, RenderSpec(32, 32, format="png"))).getpixel((5, 5))
    as_is = decoded(render(untagged, RenderSpec(32, 32, format="png"))).getpixel((5, 5))
    assert close(as_srgb, (40, 200, 40), tolerance=6)
    assert not close(as_is, (40, 200, 40), tolerance=6)


def test_sixteen_bit_png_renders_to_eight_bit() -> None:
    deep = (
        pyvips.Image.black(50, 40).cast("ushort").new_from_image([65535, 0, 0]).copy(interpretation="rgb16")
    )
    original = deep.write_to_buffer(".png")
    assert original[24] == 16  # IHDR bit depth
    for fmt in ("png", "jpeg"):
        rendered = render(original, RenderSpec(20, 20, format=fmt))
        if fmt == "png":
            assert rendered.data[24] == 8
        assert close(decoded(rendered).getpixel((3, 3)), (255, 0, 0))


def test_first_frame_of_an_animation() -> None:
    frames = [Image.new("RGB", (60, 40), colour) for colour in (RED, BLUE, GREEN)]
    for fmt in ("GIF", "WEBP"):
        buf = io.BytesIO()
        frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
        rendered = render(buf.getvalue(), RenderSpec(30, 30))
        assert (rendered.width, rendered.height) == (30, 20)
        assert close(decoded(rendered).convert("RGB").getpixel((5, 5)), RED)


def test_alpha_gives_png_and_opaque_gives_jpeg() -> None:
    transparent = Image.new("RGBA", (40, 40), (0, 200, 0, 90))
    rendered = render(encode(transparent, "PNG"), RenderSpec(20, 20))
    assert (rendered.format, rendered.content_type) == ("png", "image/png")
    assert decoded(rendered).getpixel((4, 4))[3] == 90
    assert render(JPEG, RenderSpec(20, 20)).format == "jpeg"
    palette = Image.new("P", (40, 40))
    palette.info["transparency"] = 0
    assert render(encode(palette, "GIF", transparency=0), RenderSpec(20, 20)).format == "png"


def test_alpha_to_jpeg_is_flattened_on_white() -> None:
    transparent = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    rendered = decoded(render(encode(transparent, "PNG"), RenderSpec(20, 20, format="jpeg")))
    assert rendered.mode == "RGB"
    assert close(rendered.getpixel((4, 4)), (255, 255, 255))


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif"])
def test_formats_and_content_types(fmt: str) -> None:
    rendered = render(JPEG, RenderSpec(64, None, format=fmt))
    assert rendered.format == fmt
    assert rendered.content_type == f"image/{fmt}"
    assert sniff_content_type(rendered.data) == rendered.content_type
    assert decoded(rendered).format == fmt.upper()


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_quality_is_applied(fmt: str) -> None:
    noisy = Image.effect_noise((200, 100), 60).convert("RGB")
    source = encode(noisy, "PNG")
    low = render(source, RenderSpec(200, None, format=fmt, quality=10))
    default = render(source, RenderSpec(200, None, format=fmt))
    high = render(source, RenderSpec(200, None, format=fmt, quality=95))
    assert len(low.data) < len(default.data) < len(high.data)


@pytest.mark.parametrize(
    "spec",
    [
        RenderSpec(None, None),
        RenderSpec(0, 10),
        RenderSpec(10, None, fit="cover"),
        RenderSpec(10, 10, fit="fill"),
        RenderSpec(10, 10, format="bmp"),
        RenderSpec(10, 10, quality=0),
        RenderSpec(10, 10, quality=101),
    ],
)
def test_bad_specs_are_400(spec: RenderSpec) -> None:
    with pytest.raises(InvalidInput):
        render(JPEG, spec)


def test_undecodable_bytes_are_415() -> None:
    with pytest.raises(UnsupportedMediaType):
        render(b"not an image at all", RenderSpec(10, 10))
    with pytest.raises(UnsupportedMediaType):
        render(JPEG[: len(JPEG) // 3], RenderSpec(10, 10))


def test_sniff_content_type() -> None:
    assert sniff_content_type(encode(halves(), "GIF")) == "image/gif"
    assert sniff_content_type(b"hello") == "application/octet-stream"


def test_engine_settings_is_a_short_token() -> None:
    assert ENGINE_SETTINGS.isalnum() and len(ENGINE_SETTINGS) <= 16


def test_render_holds_the_budget_while_it_runs() -> None:
    budget = PixelBudget(10)
    entered, release = threading.Event(), threading.Event()
    results: list[Rendered] = []

    def blocker() -> None:
        with budget.hold(10):
            entered.set()
            release.wait()

    thread = threading.Thread(target=blocker)
    thread.start()
    entered.wait()
    worker = threading.Thread(target=lambda: results.append(render(JPEG, RenderSpec(20, 20), budget=budget)))
    worker.start()
    for _ in range(1000):  # until the rendition is queued behind the holder
        if budget.waiting:
            break
        worker.join(0.01)
    assert budget.waiting == 1
    assert results == []
    release.set()
    thread.join()
    worker.join()
    assert results[0].width == 20
    assert budget.held == 0


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "AVIF", "GIF"])
def test_every_accepted_format_renders(fmt: str) -> None:
    original = encode(halves(), fmt, **({"quality": 90} if fmt in ("WEBP", "AVIF") else {}))
    rendered = render(original, RenderSpec(100, None))
    assert (rendered.width, rendered.height) == (100, 50)
    img = decoded(rendered).convert("RGB")
    assert close(img.getpixel((5, 25)), RED) and close(img.getpixel((95, 25)), BLUE)


def test_srgb_tagged_pixels_come_out_as_they_are() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tagged = decoded(render(encode(halves(), "PNG", icc_profile=srgb), RenderSpec(100, None, format="png")))
    untagged = decoded(render(encode(halves(), "PNG"), RenderSpec(100, None, format="png")))
    assert tagged.tobytes() == untagged.tobytes()
    assert "icc_profile" not in tagged.info
