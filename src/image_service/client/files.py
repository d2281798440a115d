"""Reading what an upload sends: the bytes and a file name from bytes or a path, and the content
type, which a direct upload must declare before the server has seen the bytes."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

# The signatures of the formats the service accepts (docs/API.md "Bytes"); the server decodes the
# bytes anyway, this only picks the type the upload URL is signed for.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)

Source = bytes | str | os.PathLike[str]


def read_source(source: Source, filename: str | None = None) -> tuple[bytes, str]:
    """The bytes to upload and the file name to send with them: the given one, else the path's
    name, else ``upload``."""
    if isinstance(source, bytes):
        return source, filename or "upload"
    path = Path(source)
    return path.read_bytes(), filename or path.name


def content_type_of(data: bytes, filename: str) -> str:
    """The type the bytes say they are, else the one the file name suggests."""
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"
