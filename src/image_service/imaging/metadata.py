"""Privacy for stored originals: remove the location (or all metadata) without re-encoding.

``strip(data, fmt, mode)`` with ``mode``:

- ``"location"`` (the default of IMAGE_SERVICE_STRIP_METADATA): the EXIF GPS IFD, the XMP place
  properties (exif:GPS*, photoshop:City/State/Country, Iptc4xmpCore:Location, Iptc4xmpExt:Location*
  ...) and the IPTC IIM place datasets (2:27/90/92/95/100/101, JPEG APP13) are removed **in place
  at the same length** (``metadata_blocks``): no container offset changes, the pixel data is
  copied byte for byte, orientation and colour profile stay.
- ``"all"``: every EXIF/XMP/IPTC/comment block goes, except the colour profile and the
  orientation: JPEG, PNG and WebP get a minimal EXIF block holding only the orientation (if the
  upload had one); AVIF's Exif and XMP items are overwritten in place (a minimal TIFF, an empty
  XMP packet) because removing an item means rewriting the ISOBMFF offsets. JPEG loses whatever
  follows its end of image (MPO secondary images, motion-photo videos: their own metadata).
- ``"none"``: the bytes as uploaded.

GIF has no EXIF; its XMP application extension is blanked like any XMP (and emptied in "all"
mode, which also blanks comment extensions), in place: GIF's XMP is raw text that readers skip
as sub-blocks until its "magic trailer" resynchronises them, whatever the text says.

Never raises on odd metadata: a block that cannot be parsed is removed entirely, in
``"location"`` mode too (privacy first: an unreadable block may hold the location). Where
removal would move offsets (a JPEG segment, an AVIF item) the block's payload is zeroed in
place instead, which no reader recognises as EXIF/XMP/IPTC any more. ``data`` is expected to
have passed ``inspect_image``; a container that cannot be walked at all is returned unchanged.
"""

from __future__ import annotations

from image_service.imaging import metadata_blocks as blocks
from image_service.imaging.metadata_avif import strip_avif
from image_service.imaging.metadata_png import strip_png

__all__ = ["STRIP_MODES", "strip"]

STRIP_MODES = ("location", "all", "none")

_EXIF_HEADER = b"Exif\x00\x00"
_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXTENSION_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
_PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"
_ICC_HEADER = b"ICC_PROFILE\x00"
_APP0, _APP1, _APP2, _APP13, _APP14, _COM, _SOS = 0xE0, 0xE1, 0xE2, 0xED, 0xEE, 0xFE, 0xDA
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0..7: no length field


def strip(data: bytes, fmt: str, mode: str) -> bytes:
    if mode == "none":
        return data
    if mode not in STRIP_MODES:
        raise ValueError(f"unknown strip mode {mode!r}")
    everything = mode == "all"
    try:
        match fmt:
            case "JPEG":
                return _strip_jpeg_all(data) if everything else _strip_jpeg_location(data)
            case "PNG":
                return strip_png(data, everything)
            case "WEBP":
                return _strip_webp(data, everything)
            case "AVIF":
                return strip_avif(data, everything)
            case "GIF":
                return _strip_gif(data, everything)
            case _:
                return data
    except (IndexError, ValueError):
        return data  # a container inspect_image accepted but we cannot walk: nothing we can edit


# --------------------------------------------------------------------------------------- JPEG


def _segments(data: bytes | bytearray, start: int) -> list[tuple[int, int, int]]:
    """(marker, segment start, segment end) of the header segments after the SOI at ``start``,
    up to and including SOS."""
    found: list[tuple[int, int, int]] = []
    pos, end = start + 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            # Extraneous bytes between segments: libjpeg (and inspect_image) skip to the next 0xFF.
            pos = data.find(b"\xff", pos)
            if pos == -1:
                break
            continue
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker in (0xD8, 0xD9):
            raise ValueError("JPEG image ends before its scan")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > end:
            raise ValueError("truncated JPEG segment")
        found.append((marker, pos, pos + 2 + length))
        if marker == _SOS:
            return found
        pos += 2 + length
    raise ValueError("no JPEG scan")


def _jpeg_end(data: bytes | bytearray, pos: int) -> int:
    """Where the image whose first scan's data starts at ``pos`` ends (just past its EOI; the end
    of ``data`` if it has none). Entropy-coded data stuffs every 0xFF (FF 00) and restart markers
    stand alone, so any other marker is a segment (tables, the next scan) to skip whole."""
    end = len(data)
    while (pos := data.find(b"\xff", pos)) != -1 and pos + 1 < end:
        marker = data[pos + 1]
        if marker == 0xD9:
            return pos + 2
        if marker in (0x00, 0xFF) or marker in _JPEG_STANDALONE:
            pos += 1 if marker == 0xFF else 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return end


def _edit_segment(payload: bytes, marker: int) -> bytes | None:
    """The payload with its location blanked (same length); None when it must be removed."""
    try:
        if marker == _APP1 and payload.startswith(_EXIF_HEADER):
            return _EXIF_HEADER + blocks.exif_without_gps(payload[len(_EXIF_HEADER) :])
        if marker == _APP1 and payload.startswith((_XMP_HEADER, _XMP_EXTENSION_HEADER)):
            return blocks.xmp_without_location(payload)
        if marker == _APP13 and payload.startswith(_PHOTOSHOP_HEADER):
            head = len(_PHOTOSHOP_HEADER)
            return payload[:head] + blocks.photoshop_without_location(payload[head:])
    except ValueError:
        return None
    return payload


def _strip_jpeg_location(data: bytes) -> bytes:
    buf = bytearray(data)
    starts = [0]
    # Images embedded after the end of the first one (MPO's other views) carry their own EXIF.
    tail = _jpeg_end(buf, _segments(buf, 0)[-1][2]) - 2
    while (tail := buf.find(b"\xff\xd8\xff", tail + 2)) != -1:
        starts.append(tail)
    for index, start in enumerate(starts):
        try:
            segments = _segments(buf, start)
        except ValueError:
            if index == 0:
                raise
            continue  # bytes that only looked like an embedded JPEG
        for marker, seg_start, seg_end in segments:
            if marker not in (_APP1, _APP13):
                continue
            payload = bytes(buf[seg_start + 4 : seg_end])
            edited = _edit_segment(payload, marker)
            buf[seg_start + 4 : seg_end] = bytes(len(payload)) if edited is None else edited
    return bytes(buf)


def _strip_jpeg_all(data: bytes) -> bytes:
    segments = _segments(data, 0)
    orientation: int | None = None
    kept: list[bytes] = []
    for marker, seg_start, seg_end in segments[:-1]:
        payload = data[seg_start + 4 : seg_end]
        if marker == _APP1 and payload.startswith(_EXIF_HEADER) and orientation is None:
            orientation = blocks.exif_orientation(payload[len(_EXIF_HEADER) :])
        if _keep_in_all(marker, payload):
            kept.append(data[seg_start:seg_end])
    scan = data[segments[-1][1] : _jpeg_end(data, segments[-1][2])]
    if orientation is not None:
        exif = _EXIF_HEADER + blocks.minimal_exif(orientation)
        app1 = b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif
        at = 1 if kept and kept[0][1] == _APP0 else 0  # after JFIF, which must come first
        kept.insert(at, app1)
    return b"\xff\xd8" + b"".join(kept) + scan


def _keep_in_all(marker: int, payload: bytes) -> bool:
    if marker == _APP2:
        return payload.startswith(_ICC_HEADER)
    if marker in (_APP0, _APP14):  # JFIF; Adobe (says how CMYK/YCCK is coded)
        return True
    return not (0xE0 <= marker <= 0xEF or marker == _COM)


# --------------------------------------------------------------------------------------- WebP

_WEBP_FLAG_EXIF, _WEBP_FLAG_XMP = 0x08, 0x04
_WEBP_IMAGE_CHUNKS = (b"VP8 ", b"VP8L", b"ALPH", b"ANMF")


def _strip_webp(data: bytes, everything: bool) -> bytes:
    if not data.startswith(b"RIFF") or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        chunks.append((data[pos : pos + 4], data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    if not chunks or chunks[0][0] != b"VP8X":
        return data  # a simple WebP has no metadata chunks
    orientation: int | None = None
    out: list[tuple[bytes, bytes]] = []
    for kind, body in chunks:
        if kind == b"EXIF":
            tiff = body.removeprefix(_EXIF_HEADER)
            if everything:
                orientation = blocks.exif_orientation(tiff)
                continue
            try:
                body = body[: len(body) - len(tiff)] + blocks.exif_without_gps(tiff)
            except ValueError:
                continue
        elif kind == b"XMP ":
            if everything:
                continue
            body = blocks.xmp_without_location(body)
        out.append((kind, body))
    if orientation is not None:
        last_image = max(i for i, (kind, _) in enumerate(out) if kind in _WEBP_IMAGE_CHUNKS or i == 0)
        out.insert(last_image + 1, (b"EXIF", blocks.minimal_exif(orientation)))
    if out == chunks:
        return data
    kinds = {kind for kind, _ in out}
    header = bytearray(out[0][1])
    header[0] &= ~(_WEBP_FLAG_EXIF | _WEBP_FLAG_XMP) & 0xFF
    header[0] |= (_WEBP_FLAG_EXIF if b"EXIF" in kinds else 0) | (_WEBP_FLAG_XMP if b"XMP " in kinds else 0)
    out[0] = (b"VP8X", bytes(header))
    body = b"".join(
        kind + len(chunk).to_bytes(4, "little") + chunk + (b"\x00" if len(chunk) & 1 else b"")
        for kind, chunk in out
    )
    return b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WEBP" + body


# ---------------------------------------------------------------------------------------- GIF

_GIF_XMP_ID = b"XMP DataXMP"


def _strip_gif(data: bytes, everything: bool) -> bytes:
    buf = bytearray(data)
    flags = buf[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    end = len(buf)
    while pos < end and buf[pos] != 0x3B:
        if buf[pos] == 0x2C:  # image: descriptor, local colour table, LZW code size, sub-blocks
            local = buf[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
        elif buf[pos] == 0x21:
            label = buf[pos + 1]
            pos += 2
            if label == 0xFF and buf[pos] == 11 and buf[pos + 1 : pos + 12] == _GIF_XMP_ID:
                _blank_gif_xmp(buf, pos + 12, everything)
            elif label == 0xFE and everything:  # comment: blank each sub-block's text
                block = pos
                while block < end and (size := buf[block]) != 0:
                    buf[block + 1 : block + 1 + size] = b" " * len(buf[block + 1 : block + 1 + size])
                    block += size + 1
        else:
            raise ValueError("not a GIF block")
        while pos < end and (size := buf[pos]) != 0:
            pos += size + 1
        pos += 1
    return bytes(buf)


def _blank_gif_xmp(buf: bytearray, start: int, everything: bool) -> None:
    close = buf.find(b"</x:xmpmeta>", start)
    if close == -1:
        return
    stop = close + len(b"</x:xmpmeta>")
    packet = bytes(buf[start:stop])
    if everything:
        opening = packet.find(b"<x:xmpmeta")
        if opening != -1 and stop - start - opening >= len(blocks.MINIMAL_XMP):
            buf[start + opening : stop] = blocks.MINIMAL_XMP.ljust(stop - start - opening)
        return
    buf[start:stop] = blocks.xmp_without_location(packet)
