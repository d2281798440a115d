"""Image bytes as files: atomic, durable writes under sharded paths derived from a key hash.

A key is hashed (SHA-256) to pick its path, ``root/ab/cd/<hash>``, so no client string ever
becomes part of a path and traversal is impossible by construction; two levels of 256 shards
keep directories small at millions of files.

Folder keys, ``~<namespace>/<folder>/<name>`` (renditions: ``~renditions/<image_id>/<token>``),
live in one directory per folder, ``root/~<namespace>/ab/<hash of the folder>/<hash of the
name>``, so that ``delete_prefix`` of a folder is one directory, not a scan of every file. The
namespace is the one part of a key that appears in a path: the service's own constant, and only
when it matches ``~[a-z0-9][a-z0-9_-]*`` (a key that does not fit is an ordinary hashed key).
Temp files of folder keys are written in the shard directory above the folder, never inside it,
so a crash leftover is not mistaken for a folder's object (fsck finds it as an orphan).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from image_service.domain.errors import BackendUnavailable, NotFound
from image_service.domain.models import StoredBlob

NAMESPACE = re.compile(r"~[a-z0-9][a-z0-9_-]*")
TEMP_PREFIX = ".tmp-"
FOLDER_OBJECT_DEPTH = 4  # ~namespace/shard/folder/object
# A folder removed by delete_prefix between our mkdir and our rename/link: make it again.
FOLDER_RACE_RETRIES = 3


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._prefix = os.fspath(self.root) + os.sep

    def path_for(self, key: str) -> Path:
        return Path(self._file_of(key))

    def _file_of(self, key: str) -> str:
        # Strings, not pathlib, on the way of every GET: three Path joins cost about as much as
        # opening and reading a 200 KB file. The relative part is hex digests and a checked
        # namespace only, so the rule that no key escapes the root holds as before.
        return self._prefix + _relative(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path_for(key)
        try:
            # A temp file fsynced, then renamed over the target: a reader sees the old file or the
            # whole new one, never a partial write, and the directory fsync makes the rename
            # itself survive a power cut.
            tmp = self._write_temp(path, data)
            try:
                self._place(os.replace, tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._fsync_dir(path.parent)
        except OSError as exc:
            raise _unavailable(exc) from exc

    def put_new(self, key: str, data: bytes, content_type: str) -> bool:
        path = self.path_for(key)
        if path.is_file():
            return False  # one exists now: False is the answer, without writing and fsyncing
        try:
            # As put, but link(2) instead of rename: it fails when the name exists, atomically, so
            # of concurrent writers (threads or processes) exactly one installs its file; the
            # others' temp files go, and the winner's object stays under its own name.
            tmp = self._write_temp(path, data)
            try:
                self._place(os.link, tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
            self._fsync_dir(path.parent)
        except FileExistsError:
            return False
        except OSError as exc:
            raise _unavailable(exc) from exc
        return True

    def get(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        try:
            # A descriptor and one pread(2) of the file's size: no buffered reader, which costs
            # half again as much for a 200 KB image (docs/PERFORMANCE.md, "Serving").
            fd = os.open(self._file_of(key), os.O_RDONLY)
            try:
                return _read(fd, start or 0, end)
            finally:
                os.close(fd)
        except FileNotFoundError:
            raise NotFound("blob not found") from None
        except OSError as exc:
            raise _unavailable(exc) from exc

    def delete(self, key: str) -> None:
        try:
            self.path_for(key).unlink(missing_ok=True)
        except OSError as exc:
            raise _unavailable(exc) from exc

    def delete_prefix(self, prefix: str) -> int:
        namespace, folder = _parse_prefix(prefix)
        try:
            if folder is None:
                folders = [d for shard in _subdirs(self.root / namespace) for d in _subdirs(shard)]
            else:
                folders = [self._folder_path(namespace, folder)]
            return sum(_empty_folder(directory) for directory in folders)
        except OSError as exc:
            raise _unavailable(exc) from exc

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._file_of(key))

    # -- fsck ------------------------------------------------------------------------------
    def ref(self, key: str) -> str:
        return _relative(key)

    def folder_ref(self, prefix: str) -> str:
        namespace, folder = _parse_prefix(prefix)
        if folder is None:
            return f"{namespace}/"
        return f"{_folder_relative(namespace, folder)}/"

    def inventory(self) -> Iterator[StoredBlob]:
        """Every file under the root, including temp files a crash left behind."""
        for path in sorted([*self.root.glob("*/*/*"), *self.root.glob("~*/*/*/*")]):
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
            if len(path.relative_to(self.root.resolve()).parts) == FOLDER_OBJECT_DEPTH:
                _remove_if_empty(path.parent)  # the last object of a folder takes the folder
        except OSError as exc:
            raise _unavailable(exc) from exc

    def ping(self) -> None:
        if not (self.root.is_dir() and os.access(self.root, os.W_OK)):
            raise BackendUnavailable("blob storage directory is not writable")

    # -- layout and writes -------------------------------------------------------------------
    def _folder_path(self, namespace: str, folder: str) -> Path:
        return self.root / _folder_relative(namespace, folder)

    def _write_temp(self, path: Path, data: bytes) -> str:
        """A fsynced temp file with ``data``, in the directory of ``path`` for an ordinary key
        and in the shard directory above the folder for a folder key (see the module doc)."""
        is_folder_key = path.relative_to(self.root).parts[0].startswith("~")
        staging = path.parent.parent if is_folder_key else path.parent
        staging.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=staging, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return tmp

    def _place(self, place: Callable[[str, Path], None], tmp: str, path: Path) -> None:
        """``place`` (rename or link) the temp file at ``path``, making its folder again if a
        ``delete_prefix`` removed it between our mkdir and the call."""
        for attempt in range(FOLDER_RACE_RETRIES):
            try:
                path.parent.mkdir()
                self._fsync_dir(path.parent.parent)  # a new folder's own name must last too
            except FileExistsError:
                pass
            try:
                place(tmp, path)
                return
            except FileNotFoundError:
                if attempt == FOLDER_RACE_RETRIES - 1:
                    raise

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _relative(key: str) -> str:
    """The object's path under the root, ``/``-separated: ``ab/cd/<hash>``, or
    ``~ns/ab/<hash of the folder>/<hash of the name>`` for a folder key (see the module doc)."""
    folder = _folder_and_name(key)
    if folder is None:
        digest = _digest(key)
        return f"{digest[:2]}/{digest[2:4]}/{digest}"
    return f"{_folder_relative(*folder[0])}/{_digest(folder[1])}"


def _folder_relative(namespace: str, folder: str) -> str:
    digest = _digest(f"{namespace}/{folder}/")
    return f"{namespace}/{digest[:2]}/{digest}"


def _read(fd: int, start: int, end: int | None) -> bytes:
    """Bytes ``start..end`` (inclusive; None: to the end) of an open file. An object's file
    never changes once in place (writes rename or link a new one), so its size at fstat is the
    size to read; a short read (a huge file, a signal) goes on where it stopped."""
    size = os.fstat(fd).st_size
    stop = size if end is None else min(end + 1, size)
    wanted = stop - start
    if wanted <= 0:
        return b""
    data = os.pread(fd, wanted, start)
    if len(data) == wanted:
        return data
    parts = [data]
    got = len(data)
    while got < wanted:
        more = os.pread(fd, wanted - got, start + got)
        if not more:
            break  # shorter than fstat said: what there is
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _folder_and_name(key: str) -> tuple[tuple[str, str], str] | None:
    """``((namespace, folder), name)`` for a folder key, else None."""
    namespace, sep, rest = key.partition("/")
    folder, sep2, name = rest.partition("/")
    if sep and sep2 and folder and name and NAMESPACE.fullmatch(namespace):
        return (namespace, folder), name
    return None


def _parse_prefix(prefix: str) -> tuple[str, str | None]:
    """``(namespace, folder)`` of ``~ns/folder/``, ``(namespace, None)`` of ``~ns/``; any other
    prefix has no directory of its own here, and is refused (ValueError), never guessed at."""
    if not prefix:
        raise ValueError("an empty prefix would name every object")
    namespace, _, rest = prefix.partition("/")
    folder, sep, tail = rest.partition("/")
    if NAMESPACE.fullmatch(namespace) and prefix.endswith("/"):
        if not rest:
            return namespace, None
        if sep and folder and not tail:
            return namespace, folder
    raise ValueError(f"not a folder of this blob store: {prefix!r}")


def _subdirs(directory: Path) -> list[Path]:
    try:
        return [d for d in directory.iterdir() if d.is_dir()]
    except FileNotFoundError:
        return []


def _empty_folder(directory: Path) -> int:
    """Delete the files of one folder, then the folder if it stayed empty; how many went."""
    deleted = 0
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            entry.unlink()
            deleted += 1
        except FileNotFoundError:
            continue  # deleted by someone else meanwhile
    _remove_if_empty(directory)
    return deleted


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno != errno.ENOTEMPTY:  # an object written meanwhile keeps the folder
            raise


def _unavailable(exc: OSError) -> BackendUnavailable:
    reason = "disk full" if exc.errno == errno.ENOSPC else "blob storage failed"
    return BackendUnavailable(reason)
