"""PNG's metadata chunks: eXIf, and the XMP and "Raw profile" text chunks (tEXt, zTXt, iTXt).

PNG has no offsets between chunks, only a CRC in each: an edited chunk is written anew (its
text re-compressed if it was compressed) and the image data chunks are copied as they are, so
the pixels cannot change. The EXIF, XMP and IPTC payloads inside are edited by
``metadata_blocks``; ImageMagick's "Raw profile type exif/xmp/iptc" text chunks carry them as
hex. A chunk whose payload cannot be read is dropped.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from image_service.imaging import metadata_blocks as blocks

__all__ = ["png_orientation", "strip_png"]

_EXIF_HEADER = b"Exif\x00\x00"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def png_orientation(data: bytes) -> int | None:
    """A PNG's EXIF orientation (eXIf chunk, else a "Raw profile" text chunk), read from the
    chunks: Pillow's ``getexif()`` decodes the whole image first (eXIf may follow the pixels)."""
    chunks = _png_chunks(data)
    found = [_png_orientation(kind, body) for kind, body in chunks if kind == b"eXIf"]
    found += [_png_orientation(kind, body) for kind, body in chunks if kind in _PNG_TEXT_CHUNKS]
    return next((value for value in found if value is not None), None)


def strip_png(data: bytes, everything: bool) -> bytes:
    """``metadata.strip`` for a PNG: ``everything`` (mode "all") or only the location."""
    out: list[bytes] = [_PNG_SIGNATURE]
    orientation: int | None = None
    changed = False
    chunks = _png_chunks(data)
    for kind, body in chunks:
        if kind == b"eXIf" or kind in _PNG_TEXT_CHUNKS:
            if everything:
                if orientation is None:
                    orientation = _png_orientation(kind, body)
                changed = True
                continue
            edited = _png_location(kind, body)
            if edited != body:
                changed = True
                if edited is None:
                    continue
                out.append(_png_chunk(kind, edited))
                continue
        if kind in (b"IDAT", b"fdAT") and orientation is not None:
            out.append(_png_chunk(b"eXIf", blocks.minimal_exif(orientation)))
            orientation = None
        out.append(_png_chunk(kind, body))
    return b"".join(out) if changed else data


def _png_orientation(kind: bytes, body: bytes) -> int | None:
    if kind == b"eXIf":  # some writers put JPEG's "Exif\0\0" before the TIFF structure
        return blocks.exif_orientation(body.removeprefix(_EXIF_HEADER))
    parsed = _png_text(kind, body)
    if parsed is not None and parsed[0] in (b"Raw profile type exif", b"Raw profile type APP1"):
        raw = _raw_profile_decode(parsed[1])
        if raw is not None:
            return blocks.exif_orientation(raw.removeprefix(_EXIF_HEADER))
    return None


def _png_location(kind: bytes, body: bytes) -> bytes | None:
    """The chunk body with its location removed (maybe re-compressed); None to drop the chunk."""
    if kind == b"eXIf":
        try:
            return _exif_payload_without_gps(body)
        except ValueError:
            return None
    if body.partition(b"\x00")[0] not in _KEYWORDS:
        return body  # a text chunk of another kind (a comment, a date): not metadata we edit
    parsed = _png_text(kind, body)
    if parsed is None:
        return None
    keyword, text, rebuild = parsed
    edit: Callable[[bytes], bytes]
    if keyword == b"XML:com.adobe.xmp":
        edit = blocks.xmp_without_location
    elif keyword in (b"Raw profile type exif", b"Raw profile type APP1"):
        edit = _raw_profile(_exif_payload_without_gps)
    elif keyword == b"Raw profile type xmp":
        edit = _raw_profile(blocks.xmp_without_location)
    elif keyword in (b"Raw profile type iptc", b"Raw profile type 8bim"):
        edit = _raw_profile(_iptc_payload_without_location)
    else:
        return body
    try:
        edited = edit(text)
    except ValueError:
        return None
    return body if edited == text else rebuild(edited)


# The text chunks read or edited here; any other keyword is never decompressed.
_KEYWORDS = frozenset(
    {
        b"XML:com.adobe.xmp",
        b"Raw profile type exif",
        b"Raw profile type APP1",
        b"Raw profile type xmp",
        b"Raw profile type iptc",
        b"Raw profile type 8bim",
    }
)
# A compressed text chunk may inflate to at most this: a zTXt of 3 MB can hold gigabytes of
# zeros (a decompression bomb on the upload path). Past it the chunk counts as unparseable.
MAX_TEXT_BYTES = 4 * 1024 * 1024


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    text = inflater.decompress(data, MAX_TEXT_BYTES)
    if inflater.unconsumed_tail:
        raise zlib.error(f"text chunk inflates past {MAX_TEXT_BYTES} bytes")
    return text


def _png_text(kind: bytes, body: bytes) -> tuple[bytes, bytes, Callable[[bytes], bytes]] | None:
    """(keyword, text, a function giving the chunk body for a new text) of a PNG text chunk whose
    keyword is one of ``_KEYWORDS``; None for any other, or one that cannot be read."""
    keyword, sep, rest = body.partition(b"\x00")
    if not sep or keyword not in _KEYWORDS:
        return None
    try:
        if kind == b"tEXt":
            return keyword, rest, lambda text: keyword + b"\x00" + text
        if kind == b"zTXt":
            return (
                keyword,
                _inflate(rest[1:]),
                lambda text: keyword + b"\x00\x00" + zlib.compress(text),
            )
        compressed, head = rest[0], rest[:2]
        language, _, rest = rest[2:].partition(b"\x00")
        translated, _, text = rest.partition(b"\x00")
        prefix = keyword + b"\x00" + head + language + b"\x00" + translated + b"\x00"
        if compressed:
            return keyword, _inflate(text), lambda text: prefix + zlib.compress(text)
        return keyword, text, lambda text: prefix + text
    except (IndexError, zlib.error):
        return None


def _raw_profile_decode(text: bytes) -> bytes | None:
    """ImageMagick's "Raw profile type ..." text: ``\\n<name>\\n<length>\\n<hex lines>``."""
    parts = text.split(b"\n", 3)
    if len(parts) < 4:
        return None
    try:
        return bytes.fromhex(parts[3].decode("ascii"))
    except ValueError:
        return None


def _raw_profile(edit: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def apply(text: bytes) -> bytes:
        raw = _raw_profile_decode(text)
        if raw is None:
            raise ValueError("unreadable raw profile")
        edited = edit(raw)
        if edited == raw:
            return text
        head = text.split(b"\n", 3)
        hexed = edited.hex().encode()
        lines = b"\n".join(hexed[pos : pos + 72] for pos in range(0, len(hexed), 72))
        return b"\n".join(head[:3]) + b"\n" + lines + b"\n"

    return apply


def _exif_payload_without_gps(raw: bytes) -> bytes:
    header = _EXIF_HEADER if raw.startswith(_EXIF_HEADER) else b""
    return header + blocks.exif_without_gps(raw[len(header) :])


def _iptc_payload_without_location(raw: bytes) -> bytes:
    if raw.startswith(b"8BIM"):
        return blocks.photoshop_without_location(raw)
    return blocks.photoshop_without_location(b"8BIM\x04\x04\x00\x00" + len(raw).to_bytes(4, "big") + raw)[12:]
