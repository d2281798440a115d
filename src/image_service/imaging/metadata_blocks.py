"""The payloads of metadata blocks, edited in place at the same length: EXIF (TIFF), XMP, IPTC.

Every editor returns bytes exactly as long as its input, so the container around the block (a
JPEG segment, a PNG chunk, a WebP chunk, an AVIF item) keeps every length and offset it has. A
payload that cannot be walked raises ``ValueError``: the caller then removes the whole block,
because a block we cannot read may hold the very location we were asked to remove.
"""

from __future__ import annotations

import re
from typing import Literal

_Order = Literal["little", "big"]

__all__ = [
    "MINIMAL_XMP",
    "exif_orientation",
    "exif_without_gps",
    "minimal_exif",
    "photoshop_without_location",
    "xmp_without_location",
]

_GPS_IFD_TAG = 0x8825
_ORIENTATION_TAG = 0x0112
# Bytes per value of each TIFF field type (1 BYTE ... 13 IFD).
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
# IPTC IIM record 2 datasets naming a place: 27 content location name, 90 city, 92 sublocation,
# 95 province/state, 100 country code, 101 country name.
_IPTC_LOCATION_DATASETS = frozenset({27, 90, 92, 95, 100, 101})
_IPTC_RESOURCE = 0x0404
_XMP_RESOURCE = 0x0424
_PHOTOSHOP_SIGNATURES = (b"8BIM", b"MeSa", b"PHUT", b"AgHg", b"DCSR")
MINIMAL_XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'

# XMP properties that name a place, by local name in any namespace (exif:GPSLatitude,
# photoshop:City, Iptc4xmpCore:Location, Iptc4xmpExt:LocationShown and its City/CountryName, a
# drone vendor's GpsLatitude, ...): matched case-insensitively.
_PLACE_NAMES = (
    rb"gps[a-z0-9_]*|city|state|country|countryname|countrycode|location|locationcreated|"
    rb"locationshown|sublocation|provincestate|worldregion|latitude|longitude|altitude|shotlocation"
)
_PLACE = re.compile(_PLACE_NAMES, re.IGNORECASE)
# Any namespaced XML tag: (closing "/", qualified name, local name, self-closing "/").
_XMP_TAG = re.compile(rb"<(/?)([A-Za-z_][\w.-]*:([\w.-]+))(?:\s[^<>]*?)?(/?)>")
_XMP_ATTRIBUTE = re.compile(
    rb"(?<![\w:.-])[A-Za-z_][\w.-]*:(?:" + _PLACE_NAMES + rb")\s*=\s*(\"[^\"]*\"|'[^']*')",
    re.IGNORECASE,
)


def exif_without_gps(tiff: bytes) -> bytes:
    """The TIFF structure of an EXIF block with its GPS IFD removed: the GPSInfo entry is taken
    out of its IFD (later entries move up, the freed bytes are zeroed) and the GPS IFD and every
    value it points to are zeroed."""
    buf = bytearray(tiff)
    order = _byte_order(buf)
    gps_offsets: list[int] = []
    for ifd in _ifd_chain(buf, order):
        count = _u16(buf, ifd, order)
        index = 0
        while index < count:
            entry = ifd + 2 + 12 * index
            if _u16(buf, entry, order) == _GPS_IFD_TAG:
                gps_offsets.append(_u32(buf, entry + 8, order))
                table_end = ifd + 2 + 12 * count + 4
                buf[entry : table_end - 12] = buf[entry + 12 : table_end]
                buf[table_end - 12 : table_end] = bytes(12)
                count -= 1
                buf[ifd : ifd + 2] = count.to_bytes(2, order)
                continue
            index += 1
    for gps in gps_offsets:
        _zero_ifd(buf, gps, order)
    return bytes(buf)


def exif_orientation(tiff: bytes) -> int | None:
    """The orientation (1..8) in IFD0 of an EXIF block's TIFF structure; None if absent or unreadable."""
    try:
        order = _byte_order(tiff)
        ifd = _u32(tiff, 4, order)
        for index in range(_u16(tiff, ifd, order)):
            entry = ifd + 2 + 12 * index
            if _u16(tiff, entry, order) == _ORIENTATION_TAG and _u16(tiff, entry + 2, order) == 3:
                value = _u16(tiff, entry + 8, order)
                return value if 1 <= value <= 8 else None
    except ValueError:
        return None
    return None


def minimal_exif(orientation: int | None, length: int | None = None) -> bytes:
    """A TIFF structure holding only ``orientation`` (or nothing), zero-padded to ``length``."""
    entries = (
        b""
        if orientation is None
        else (
            _ORIENTATION_TAG.to_bytes(2, "big")
            + b"\x00\x03\x00\x00\x00\x01"
            + orientation.to_bytes(2, "big")
            + b"\x00\x00"
        )
    )
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + (len(entries) // 12).to_bytes(2, "big") + entries + bytes(4)
    if length is None:
        return tiff
    return tiff.ljust(length, b"\x00") if len(tiff) <= length else bytes(length)


def xmp_without_location(xmp: bytes) -> bytes:
    """XMP with the value of every place-naming property replaced by spaces (same length)."""
    buf = bytearray(xmp)
    # One pass over the tags (linear however the XMP is built): the content of a place element,
    # child elements included, is blanked when its closing tag comes.
    open_places: dict[bytes, list[int]] = {}
    for tag in _XMP_TAG.finditer(xmp):
        closing, name, local, self_closing = tag.groups()
        if closing:
            starts = open_places.get(name)
            if starts:
                start = starts.pop()
                buf[start : tag.start()] = b" " * (tag.start() - start)
        elif not self_closing and _PLACE.fullmatch(local):
            open_places.setdefault(name, []).append(tag.end())
    for match in _XMP_ATTRIBUTE.finditer(bytes(buf)):
        start, end = match.span(1)
        buf[start + 1 : end - 1] = b" " * (end - start - 2)
    return bytes(buf)


def photoshop_without_location(resources: bytes) -> bytes:
    """Photoshop image resources (JPEG APP13 after ``Photoshop 3.0\\0``) with the IPTC place
    datasets and the XMP place properties blanked."""
    buf = bytearray(resources)
    pos, end = 0, len(buf)
    while pos < end:
        if buf[pos:] == bytes(end - pos):  # zero padding after the last resource
            break
        if pos + 6 > end or bytes(buf[pos : pos + 4]) not in _PHOTOSHOP_SIGNATURES:
            raise ValueError("not a Photoshop image resource")
        resource = int.from_bytes(buf[pos + 4 : pos + 6], "big")
        name_length = buf[pos + 6] if pos + 6 < end else 0
        pos += 6 + ((name_length + 2) & ~1)  # Pascal string, padded to an even size
        if pos + 4 > end:
            raise ValueError("truncated Photoshop image resource")
        size = int.from_bytes(buf[pos : pos + 4], "big")
        start, stop = pos + 4, pos + 4 + size
        if stop > end:
            raise ValueError("truncated Photoshop image resource")
        if resource == _IPTC_RESOURCE:
            buf[start:stop] = _iptc_without_location(bytes(buf[start:stop]))
        elif resource == _XMP_RESOURCE:
            buf[start:stop] = xmp_without_location(bytes(buf[start:stop]))
        pos = stop + (size & 1)
    return bytes(buf)


def _iptc_without_location(iim: bytes) -> bytes:
    buf = bytearray(iim)
    pos, end = 0, len(buf)
    while pos < end:
        if buf[pos] == 0:  # padding
            break
        if buf[pos] != 0x1C or pos + 5 > end:
            raise ValueError("not an IPTC dataset")
        record, dataset = buf[pos + 1], buf[pos + 2]
        length = int.from_bytes(buf[pos + 3 : pos + 5], "big")
        pos += 5
        if length & 0x8000:  # extended dataset: the length is in the next (length & 0x7fff) bytes
            size = length & 0x7FFF
            length = int.from_bytes(buf[pos : pos + size], "big")
            pos += size
        if pos + length > end:
            raise ValueError("truncated IPTC dataset")
        if record == 2 and dataset in _IPTC_LOCATION_DATASETS:
            buf[pos : pos + length] = b" " * length
        pos += length
    return bytes(buf)


def _byte_order(tiff: bytes | bytearray) -> _Order:
    if tiff[:4] == b"II*\x00":
        return "little"
    if tiff[:4] == b"MM\x00*":
        return "big"
    raise ValueError("not a TIFF structure")


def _u16(buf: bytes | bytearray, pos: int, order: _Order) -> int:
    if pos < 0 or pos + 2 > len(buf):
        raise ValueError("offset outside the EXIF block")
    return int.from_bytes(buf[pos : pos + 2], order)


def _u32(buf: bytes | bytearray, pos: int, order: _Order) -> int:
    if pos < 0 or pos + 4 > len(buf):
        raise ValueError("offset outside the EXIF block")
    return int.from_bytes(buf[pos : pos + 4], order)


def _ifd_chain(buf: bytearray, order: _Order) -> list[int]:
    """IFD0 and IFD1 (the thumbnail's), where a GPSInfo pointer may sit."""
    chain: list[int] = []
    offset = _u32(buf, 4, order)
    while offset and len(chain) < 2 and offset not in chain:
        count = _u16(buf, offset, order)
        if offset + 2 + 12 * count + 4 > len(buf):
            raise ValueError("IFD outside the EXIF block")
        chain.append(offset)
        offset = _u32(buf, offset + 2 + 12 * count, order)
    return chain


def _zero_ifd(buf: bytearray, ifd: int, order: _Order) -> None:
    count = _u16(buf, ifd, order)
    table_end = ifd + 2 + 12 * count + 4
    if table_end > len(buf):
        raise ValueError("GPS IFD outside the EXIF block")
    for index in range(count):
        entry = ifd + 2 + 12 * index
        kind = _u16(buf, entry + 2, order)
        if kind not in _TYPE_SIZES:
            raise ValueError("unknown TIFF field type in the GPS IFD")
        size = _TYPE_SIZES[kind] * _u32(buf, entry + 4, order)
        if size > 4:
            value = _u32(buf, entry + 8, order)
            if value + size > len(buf):
                raise ValueError("GPS value outside the EXIF block")
            buf[value : value + size] = bytes(size)
    buf[ifd:table_end] = bytes(table_end - ifd)
