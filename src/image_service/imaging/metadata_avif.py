"""AVIF's metadata items, edited in place: the Exif and XMP items named in the ISOBMFF ``meta`` box.

An AVIF keeps EXIF and XMP as items of its ``meta`` box: ``iinf`` names each item's type
(``Exif``, or ``mime`` with content type ``application/rdf+xml``) and ``iloc`` says where its
bytes are (in ``mdat``, or in ``meta``'s own ``idat``). Removing an item would mean rewriting
``iloc`` offsets of every item after it, so items are only ever overwritten at the same length
(the orientation of an AVIF is its ``irot``/``imir`` properties, which are never touched).
"""

from __future__ import annotations

from dataclasses import dataclass

from image_service.imaging import metadata_blocks as blocks

__all__ = ["strip_avif"]

_XMP_TYPE = b"application/rdf+xml"


@dataclass(frozen=True, slots=True)
class _Item:
    kind: str  # "exif" | "xmp"
    extents: tuple[tuple[int, int], ...]  # (file offset, length)


def strip_avif(data: bytes, everything: bool) -> bytes:
    meta = _child(data, 0, len(data), b"meta")
    if meta is None:
        return data
    start, end = meta[0] + 4, meta[1]  # meta is a full box: skip version and flags
    items = _metadata_items(data, start, end)
    if not items:
        return data
    buf = bytearray(data)
    for item in items:
        if len(item.extents) != 1:
            for offset, length in item.extents:  # split over extents: cannot be edited, remove
                buf[offset : offset + length] = bytes(length)
            continue
        offset, length = item.extents[0]
        payload = bytes(buf[offset : offset + length])
        buf[offset : offset + length] = _edited(item.kind, payload, everything)
    return bytes(buf)


def _edited(kind: str, payload: bytes, everything: bool) -> bytes:
    if kind == "xmp":
        if everything:
            return (
                blocks.MINIMAL_XMP.ljust(len(payload))
                if len(payload) >= len(blocks.MINIMAL_XMP)
                else b" " * len(payload)
            )
        return blocks.xmp_without_location(payload)
    # Exif item: a 4-byte offset to the TIFF header (after e.g. "Exif\0\0"), then the TIFF.
    if len(payload) < 4:
        return bytes(len(payload))
    head = 4 + int.from_bytes(payload[:4], "big")
    tiff = payload[head:]
    if everything:
        orientation = blocks.exif_orientation(tiff)
        return payload[:head] + blocks.minimal_exif(orientation, len(tiff))
    try:
        return payload[:head] + blocks.exif_without_gps(tiff)
    except ValueError:
        return payload[:head] + blocks.minimal_exif(None, len(tiff))


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, content start, content end) of the boxes in ``data[start:end]``."""
    found: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError("truncated ISOBMFF box")
        found.append((kind, pos + header, pos + size))
        pos += size
    return found


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for found, content_start, content_end in _boxes(data, start, end):
        if found == kind:
            return content_start, content_end
    return None


def _metadata_items(data: bytes, start: int, end: int) -> list[_Item]:
    kinds: dict[int, str] = {}
    locations: dict[int, tuple[int, tuple[tuple[int, int], ...]]] = {}
    idat = 0
    for kind, content_start, content_end in _boxes(data, start, end):
        if kind == b"iinf":
            kinds = _item_kinds(data, content_start, content_end)
        elif kind == b"iloc":
            locations = _item_locations(data, content_start, content_end)
        elif kind == b"idat":
            idat = content_start
    items: list[_Item] = []
    for item_id, kind_name in kinds.items():
        if item_id not in locations:
            continue
        method, extents = locations[item_id]
        if method == 1:
            extents = tuple((idat + offset, length) for offset, length in extents)
        elif method != 0:
            continue  # constructed from other items: holds no bytes of its own
        if any(offset + length > len(data) for offset, length in extents):
            raise ValueError("item outside the file")
        items.append(_Item(kind_name, extents))
    return items


def _item_kinds(data: bytes, start: int, end: int) -> dict[int, str]:
    version = data[start]
    pos = start + 4 + (2 if version == 0 else 4)
    kinds: dict[int, str] = {}
    for kind, content_start, content_end in _boxes(data, pos, end):
        if kind != b"infe" or data[content_start] < 2:
            continue
        wide = data[content_start] >= 3
        pos = content_start + 4
        item_id = int.from_bytes(data[pos : pos + (4 if wide else 2)], "big")
        pos += (4 if wide else 2) + 2  # item_protection_index
        item_type = data[pos : pos + 4]
        if item_type == b"Exif":
            kinds[item_id] = "exif"
        elif item_type == b"mime":
            name_end = data.index(b"\x00", pos + 4, content_end)
            content_type = data[name_end + 1 : content_end].split(b"\x00", 1)[0]
            if content_type == _XMP_TYPE:
                kinds[item_id] = "xmp"
    return kinds


def _item_locations(data: bytes, start: int, end: int) -> dict[int, tuple[int, tuple[tuple[int, int], ...]]]:
    version = data[start]
    offset_size, length_size = data[start + 4] >> 4, data[start + 4] & 0x0F
    base_size, index_size = data[start + 5] >> 4, (data[start + 5] & 0x0F) if version in (1, 2) else 0
    pos = start + 6

    def read(size: int) -> int:
        nonlocal pos
        if pos + size > end:
            raise ValueError("truncated iloc box")
        value = int.from_bytes(data[pos : pos + size], "big")
        pos += size
        return value

    locations: dict[int, tuple[int, tuple[tuple[int, int], ...]]] = {}
    for _ in range(read(4 if version == 2 else 2)):
        item_id = read(4 if version == 2 else 2)
        method = read(2) & 0x0F if version in (1, 2) else 0
        read(2)  # data_reference_index
        base = read(base_size)
        extents = []
        for _ in range(read(2)):
            read(index_size)
            offset = read(offset_size)
            extents.append((base + offset, read(length_size)))
        locations[item_id] = (method, tuple(extents))
    return locations
