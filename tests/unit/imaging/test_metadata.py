"""Privacy of stored originals: location (or everything) out, pixels, orientation and ICC kept.

Every image is made here with Pillow, carrying EXIF GPS, an orientation, an ICC profile and XMP
with place properties; the result is read back with Pillow (EXIF, XMP, ICC, pixels) and pyvips.
"""

from __future__ import annotations

import io
import warnings
import zlib

import pytest
import pyvips
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, PngImagePlugin

from image_service.imaging.metadata import strip

FORMATS = ("JPEG", "PNG", "WEBP", "AVIF")
GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
PLACES = (b"Lausanne", b"Vaud", b"Switzerland", b"46,31.0N", b"6,38.0E", b"Ouchy")
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""'
    b' xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
    b' xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"'
    b' xmlns:dc="http://purl.org/dc/elements/1.1/" photoshop:City="Lausanne" exif:GPSLatitude="46,31.0N">'
    b"<exif:GPSLongitude>6,38.0E</exif:GPSLongitude><photoshop:State>Vaud</photoshop:State>"
    b"<photoshop:Country>Switzerland</photoshop:Country><Iptc4xmpCore:Location>Ouchy</Iptc4xmpCore:Location>"
    b"<dc:creator><rdf:Seq><rdf:li>Ada Lovelace</rdf:li></rdf:Seq></dc:creator>"
    b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def exif() -> Image.Exif:
    tags = Image.Exif()
    tags[ORIENTATION] = 6
    tags[MAKE] = "Camera"
    tags[GPS_IFD] = {1: "N", 2: (46.0, 31.0, 0.0), 3: "E", 4: (6.0, 38.0, 0.0)}
    return tags


def photo(fmt: str, **params: object) -> bytes:
    img = Image.new("RGB", (48, 32))
    img.putdata([((x * 5) % 256, (y * 8) % 256, (x * y) % 256) for y in range(32) for x in range(48)])
    buf = io.BytesIO()
    options: dict[str, object] = {"exif": exif(), "icc_profile": ICC, "xmp": XMP}
    if fmt in ("JPEG", "WEBP", "AVIF"):
        options["quality"] = 90
    if fmt == "PNG" and params.get("xmp", XMP):  # Pillow writes PNG XMP only as a text chunk
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP.decode())
        options["pnginfo"] = info
    img.save(buf, fmt, **(options | params))
    return buf.getvalue()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def pixels(data: bytes) -> bytes:
    with opened(data) as img:
        return img.convert("RGB").tobytes()


def xmp_of(data: bytes) -> bytes:
    with opened(data) as img:
        value = img.info.get("xmp", img.info.get("XML:com.adobe.xmp", b""))
    return value.encode() if isinstance(value, str) else bytes(value)


@pytest.fixture(scope="module", params=FORMATS)
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def original(fmt: str) -> bytes:
    data = photo(fmt)
    with opened(data) as img:  # the fixture really carries what the tests remove
        assert dict(img.getexif().get_ifd(GPS_IFD))
        assert img.info.get("icc_profile") == ICC
    assert b"Lausanne" in xmp_of(data)
    return data


def test_location_mode_removes_gps_and_keeps_everything_else(fmt: str, original: bytes) -> None:
    stripped = strip(original, fmt, "location")
    assert len(stripped) == len(original)  # in place: no container offset moved
    with opened(stripped) as img:
        tags = img.getexif()
        assert GPS_IFD not in tags
        assert dict(tags.get_ifd(GPS_IFD)) == {}
        assert tags[ORIENTATION] == 6
        assert tags[MAKE] == "Camera"
        assert img.info.get("icc_profile") == ICC
    xmp = xmp_of(stripped)
    assert b"Ada Lovelace" in xmp
    assert not [place for place in PLACES if place in xmp]
    assert pixels(stripped) == pixels(original)


def test_location_mode_is_seen_by_libvips_too(fmt: str, original: bytes) -> None:
    image = pyvips.Image.new_from_buffer(strip(original, fmt, "location"), "")
    if fmt != "AVIF":  # libvips reads an AVIF's orientation from its irot/imir boxes, not EXIF
        assert image.get("orientation") == 6
    fields = image.get_fields()
    assert not [field for field in fields if "gps" in field.lower()]
    assert image.get("icc-profile-data") == ICC


def test_all_mode_keeps_only_orientation_and_icc(fmt: str, original: bytes) -> None:
    stripped = strip(original, fmt, "all")
    with opened(stripped) as img:
        tags = img.getexif()
        assert dict(tags) == {ORIENTATION: 6}
        assert img.info.get("icc_profile") == ICC
    xmp = xmp_of(stripped)
    assert b"Ada Lovelace" not in xmp and b"Lausanne" not in xmp
    assert pixels(stripped) == pixels(original)


def test_none_mode_changes_nothing(fmt: str, original: bytes) -> None:
    assert strip(original, fmt, "none") is original


def test_all_mode_without_orientation_adds_no_exif(fmt: str) -> None:
    tags = Image.Exif()
    tags[MAKE] = "Camera"
    original = photo(fmt, exif=tags)
    with opened(strip(original, fmt, "all")) as img:
        assert dict(img.getexif()) == {}


def test_image_without_metadata_is_returned_as_is(fmt: str) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, fmt)
    data = buf.getvalue()
    assert strip(data, fmt, "location") == data


def gif_with_xmp() -> bytes:
    """A two-frame GIF with a comment and an XMP application extension (raw XMP, then the
    "magic trailer" that brings GIF readers back in step)."""
    frames = [Image.new("RGB", (6, 4), colour) for colour in ((200, 0, 0), (0, 0, 200))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], comment=b"holiday")
    data = buf.getvalue()
    trailer = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    extension = b"\x21\xff\x0bXMP DataXMP" + XMP + trailer
    image = data.index(b"\x2c")  # the first image descriptor
    return data[:image] + extension + data[image:]


def gif_frames(data: bytes) -> list[bytes]:
    with opened(data) as img:
        frames = []
        for index in range(img.n_frames):
            img.seek(index)
            frames.append(img.convert("RGB").tobytes())
        return frames


def test_gif_xmp_loses_its_places_in_place() -> None:
    original = gif_with_xmp()
    stripped = strip(original, "GIF", "location")
    assert len(stripped) == len(original)
    assert not [place for place in PLACES if place in stripped]
    assert b"Ada Lovelace" in stripped and b"holiday" in stripped  # comments stay
    assert gif_frames(stripped) == gif_frames(original)


def test_gif_all_mode_empties_xmp_and_comments() -> None:
    original = gif_with_xmp()
    stripped = strip(original, "GIF", "all")
    assert b"Ada Lovelace" not in stripped and b"Lausanne" not in stripped and b"holiday" not in stripped
    assert len(gif_frames(original)) == 2
    assert gif_frames(stripped) == gif_frames(original)


def test_gif_without_metadata_is_unchanged() -> None:
    buf = io.BytesIO()
    Image.new("P", (4, 4)).save(buf, "GIF")
    assert strip(buf.getvalue(), "GIF", "all") == buf.getvalue()


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        strip(photo("PNG"), "PNG", "some")


# ------------------------------------------------------------------------------- odd metadata


def jpeg_with_app(marker: int, payload: bytes) -> bytes:
    data = photo("JPEG", exif=b"", xmp=b"")
    segment = bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload
    return data[:2] + segment + data[2:]


def test_unparseable_jpeg_exif_is_removed_in_location_mode() -> None:
    # "Exif" then a TIFF header whose IFD0 offset points far outside the block.
    data = jpeg_with_app(0xE1, b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0GPS 46.5N")
    stripped = strip(data, "JPEG", "location")
    assert b"Exif\x00\x00" not in stripped[:200] and b"GPS 46.5N" not in stripped
    assert pixels(stripped) == pixels(photo("JPEG", exif=b"", xmp=b""))


def test_iptc_place_datasets_are_blanked_in_jpeg() -> None:
    def dataset(number: int, value: bytes) -> bytes:
        return b"\x1c\x02" + bytes([number]) + len(value).to_bytes(2, "big") + value

    iim = dataset(90, b"Lausanne") + dataset(101, b"Switzerland") + dataset(80, b"Ada Lovelace")
    resource = b"8BIM\x04\x04\x00\x00" + len(iim).to_bytes(4, "big") + iim + b"\x00" * (len(iim) & 1)
    data = jpeg_with_app(0xED, b"Photoshop 3.0\x00" + resource)
    stripped = strip(data, "JPEG", "location")
    assert len(stripped) == len(data)
    assert b"Lausanne" not in stripped and b"Switzerland" not in stripped
    assert b"Ada Lovelace" in stripped
    assert b"Ada Lovelace" not in strip(data, "JPEG", "all")


def test_unparseable_iptc_is_removed() -> None:
    data = jpeg_with_app(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x7f\xff\xff\xffLausanne")
    assert b"Lausanne" not in strip(data, "JPEG", "location")


def png_text(kind: bytes, body: bytes) -> bytes:
    data = photo("PNG", exif=b"", xmp=b"")
    chunk = len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    return data[:33] + chunk + data[33:]  # right after IHDR


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def test_png_raw_exif_profile_loses_its_gps() -> None:
    raw = exif().tobytes()
    assert raw.startswith(b"Exif\x00\x00")
    text = b"\nexif\n" + str(len(raw)).rjust(8).encode() + b"\n" + raw.hex().encode() + b"\n"
    data = png_text(b"zTXt", b"Raw profile type exif\x00\x00" + zlib.compress(text))
    with opened(data) as img:
        assert dict(img.getexif().get_ifd(GPS_IFD))
    stripped = strip(data, "PNG", "location")
    with opened(stripped) as img:
        tags = img.getexif()
        assert dict(tags.get_ifd(GPS_IFD)) == {}
        assert tags[ORIENTATION] == 6
    assert pixels(stripped) == pixels(data)


def test_png_compressed_xmp_loses_its_places() -> None:
    data = png_text(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(XMP))
    stripped = strip(data, "PNG", "location")
    (body,) = [body for kind, body in png_chunks(stripped) if kind == b"iTXt"]
    xmp = zlib.decompress(body[len(b"XML:com.adobe.xmp") + 5 :])
    assert not [place for place in PLACES if place in xmp]
    assert b"Ada Lovelace" in xmp


def test_broken_png_text_chunk_is_dropped() -> None:
    data = png_text(b"zTXt", b"Raw profile type exif\x00\x00not zlib at all: 46.5N")
    stripped = strip(data, "PNG", "location")
    assert b"46.5N" not in stripped
    assert pixels(stripped) == pixels(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=0, max_size=80), st.sampled_from(["location", "all"]))
def test_garbage_exif_never_raises(garbage: bytes, mode: str) -> None:
    data = jpeg_with_app(0xE1, b"Exif\x00\x00" + garbage)
    stripped = strip(data, "JPEG", mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about the EXIF it cannot read
        assert pixels(stripped) == pixels(photo("JPEG", exif=b"", xmp=b""))


def test_progressive_jpeg_keeps_every_scan_in_all_mode() -> None:
    original = photo("JPEG", progressive=True)
    assert original.count(b"\xff\xda") > 1  # several scans, tables between them
    stripped = strip(original, "JPEG", "all")
    assert stripped.endswith(b"\xff\xd9")
    assert pixels(stripped) == pixels(original)


def test_jpeg_appended_after_the_image_loses_its_gps_too() -> None:
    # MPO's other views and similar appended images carry their own EXIF.
    first, second = photo("JPEG"), photo("JPEG", quality=70)
    stripped = strip(first + second, "JPEG", "location")
    assert len(stripped) == len(first + second)
    for part in (stripped[: len(first)], stripped[len(first) :]):
        with opened(part) as img:
            assert dict(img.getexif().get_ifd(GPS_IFD)) == {}
            assert img.getexif()[ORIENTATION] == 6
    assert strip(first + second, "JPEG", "all").endswith(b"\xff\xd9")
    assert len(strip(first + second, "JPEG", "all")) < len(first)  # what follows the image is gone


def test_extraneous_bytes_between_jpeg_segments_do_not_stop_the_strip() -> None:
    original = photo("JPEG")
    after_first = 4 + int.from_bytes(original[4:6], "big")
    patched = original[:after_first] + b"\x00\x00" + original[after_first:]  # libjpeg skips them
    assert dict(opened(patched).getexif().get_ifd(GPS_IFD))
    with opened(strip(patched, "JPEG", "location")) as img:
        assert dict(img.getexif().get_ifd(GPS_IFD)) == {}


_ORIGINALS = {fmt: photo(fmt) for fmt in FORMATS} | {"GIF": gif_with_xmp()}


@settings(max_examples=150, deadline=None, database=None)
@given(
    fmt=st.sampled_from(sorted(_ORIGINALS)),
    mode=st.sampled_from(["location", "all"]),
    position=st.floats(min_value=0, max_value=1, exclude_max=True),
    patch=st.binary(min_size=1, max_size=12),
    cut=st.booleans(),
)
def test_damaged_metadata_never_raises(fmt: str, mode: str, position: float, patch: bytes, cut: bool) -> None:
    data = bytearray(_ORIGINALS[fmt])
    offset = int(position * len(data))
    data[offset : offset + len(patch)] = patch
    stripped = strip(bytes(data[:offset] if cut else data), fmt, mode)
    assert isinstance(stripped, bytes)


@pytest.mark.parametrize("keyword", [b"XML:com.adobe.xmp", b"Raw profile type exif", b"Comment"])
def test_a_compressed_text_bomb_is_never_inflated_whole(keyword: bytes) -> None:
    """A zTXt of ~200 KB that inflates to 200 MiB: read at most a few MiB of it (the XMP or
    EXIF one is then unreadable, so it goes: privacy first), never the whole."""
    import tracemalloc

    bomb = zlib.compress(b"\x00" * (200 * 1024 * 1024), 9)
    data = png_text(b"zTXt", keyword + b"\x00\x00" + bomb)
    tracemalloc.start()
    try:
        stripped = strip(data, "PNG", "location")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024, peak
    kinds = [(kind, body.partition(b"\x00")[0]) for kind, body in png_chunks(stripped)]
    assert ((b"zTXt", keyword) in kinds) == (keyword == b"Comment")
    assert strip(data, "PNG", "none") == data
