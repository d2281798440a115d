"""The Content-Disposition header for an image or a rendition: the same on every backend and in
S3 URLs."""

from __future__ import annotations

from urllib.parse import quote


def content_disposition(filename: str, *, download: bool) -> str:
    """RFC 6266: a plain-ASCII ``filename`` with quotes, backslashes and controls replaced, plus
    ``filename*`` with the exact name percent-encoded as UTF-8; CR/LF can never get through."""
    kind = "attachment" if download else "inline"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename) or "image"
    encoded = quote(filename, safe="")
    if fallback == filename:
        return f'{kind}; filename="{fallback}"'
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def renamed_for(filename: str, extension: str) -> str:
    """The uploaded name with the extension of a rendition's format (``IMG_1.JPG`` as WebP is
    ``IMG_1.webp``), so a downloaded rendition opens as what it is."""
    stem, dot, _ = filename.rpartition(".")
    return f"{stem if dot and stem else filename}.{extension}"
