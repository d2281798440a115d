"""Image bytes as files: atomic, durable writes under sharded paths derived from a key hash.

A key is hashed (SHA-256) to pick its path, ``root/ab/cd/<hash>``, so no client string ever
becomes part of a path and traversal is impossible by construction; two levels of 256 shards
keep directories small at millions of files.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from image_service.domain.errors import BackendUnavailable, NotFound
from image_service.domain.models import StoredBlob


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path_for(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write a temp file in the same directory, fsync it, then rename over the target:
            # a reader sees the old file or the whole new one, never a partial write, and the
            # directory fsync makes the rename itself survive a power cut.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._fsync_dir(path.parent)
        except OSError as exc:
            raise _unavailable(exc) from exc

    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        try:
            with open(self.path_for(key), "rb") as handle:
                if start is None:
                    return handle.read()
                handle.seek(start)
                return handle.read(-1 if end is None else end - start + 1)
        except FileNotFoundError:
            raise NotFound("blob not found") from None
        except OSError as exc:
            raise _unavailable(exc) from exc

    def delete(self, key: str) -> None:
        try:
            self.path_for(key).unlink(missing_ok=True)
        except OSError as exc:
            raise _unavailable(exc) from exc

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    # -- fsck ------------------------------------------------------------------------------
    def ref(self, key: str) -> str:
        return self.path_for(key).relative_to(self.root).as_posix()

    def inventory(self) -> Iterator[StoredBlob]:
        """Every file under the root, including temp files a crash left behind."""
        for path in sorted(self.root.glob("*/*/*")):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # deleted while we looked
            if path.is_file():
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                yield StoredBlob(path.relative_to(self.root).as_posix(), modified, stat.st_size)

    def delete_ref(self, ref: str) -> None:
        path = (self.root / ref).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"not a blob path: {ref!r}")
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise _unavailable(exc) from exc

    def ping(self) -> None:
        if not (self.root.is_dir() and os.access(self.root, os.W_OK)):
            raise BackendUnavailable("blob storage directory is not writable")

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _unavailable(exc: OSError) -> BackendUnavailable:
    reason = "disk full" if exc.errno == errno.ENOSPC else "blob storage failed"
    return BackendUnavailable(reason)
