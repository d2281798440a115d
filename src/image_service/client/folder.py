"""Uploading many files (folders) a few at a time, so that a run can be repeated safely.

Each file is sent under an ``Idempotency-Key`` derived from what makes its upload the same: its
bytes (their SHA-256), its path relative to the folder named, the metadata and the flow (inline
or direct: the server binds a key to its route). A second run over the same folder sends the same
keys, and the server answers each one it already stored with its first answer (the header
``Idempotent-Replayed``): counted as skipped, nothing stored twice. That holds for 24 hours, as
long as the server remembers keys (docs/API.md "Retries: Idempotency-Key").
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from image_service.client.defaults import INLINE_LIMIT
from image_service.client.errors import ClientError
from image_service.client.http import Client
from image_service.client.models import Image, Metadata

KEY_PREFIX = "isc1-"  # a version: a change of the derivation must not meet old keys' requests
Status = Literal["uploaded", "skipped", "failed"]


@dataclass(frozen=True)
class LocalFile:
    """A file to upload: where it is, its path as part of the upload's identity, and its size."""

    path: Path
    relative: str
    size: int


@dataclass(frozen=True)
class Outcome:
    file: LocalFile
    status: Status
    image: Image | None = None
    error: str | None = None
    direct: bool = False


def find_files(paths: Iterable[str | os.PathLike[str]], *, recursive: bool = False) -> list[LocalFile]:
    """The regular files named, and those in the folders named (with ``recursive``, also in
    their subfolders), in path order. Hidden entries (``.name``) inside a folder, and anything
    that is not a regular file (sockets, pipes, devices), are left out. A path that does not
    exist raises FileNotFoundError."""
    found: list[LocalFile] = []
    for given in paths:
        path = Path(given)
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            found.extend(_walk(path, Path(path.resolve().name), recursive))
        elif stat.S_ISREG(mode):
            found.append(LocalFile(path, path.name, path.stat().st_size))
    return found


def _walk(folder: Path, relative: Path, recursive: bool) -> Iterable[LocalFile]:
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        # A symlinked folder is not followed: it may lead back up (a loop) or out of the folder.
        if entry.is_dir(follow_symlinks=False):
            if recursive:
                yield from _walk(Path(entry.path), relative / entry.name, recursive)
        elif entry.is_file():  # follows symlinks, as reading does; pipes and sockets are not files
            yield LocalFile(Path(entry.path), (relative / entry.name).as_posix(), entry.stat().st_size)


def upload_key(data: bytes, relative: str, metadata: Metadata, *, direct: bool) -> str:
    """The Idempotency-Key of one file's upload: the same for the same bytes, path, metadata and
    flow; 69 visible ASCII characters (the server takes 1-255)."""
    identity = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "path": relative,
        "metadata": dict(metadata),
        "flow": "direct" if direct else "inline",
    }
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return KEY_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()


def upload_one(
    client: Client, file: LocalFile, metadata: Metadata, *, inline_limit: int = INLINE_LIMIT
) -> Outcome:
    """Upload one file under its key; a failure (the server's reason, or why the file could not
    be read) is an outcome, not an exception."""
    try:
        data = file.path.read_bytes()
    except OSError as exc:
        return Outcome(file, "failed", error=exc.strerror or str(exc))
    direct = len(data) > inline_limit
    named: Metadata = {**metadata, "filename": file.path.name}
    key = upload_key(data, file.relative, metadata, direct=direct)
    try:
        if direct:
            done = client.upload_direct(data, idempotency_key=key, **named)
        else:
            done = client.upload(data, idempotency_key=key, **named)
    except ClientError as exc:
        return Outcome(file, "failed", error=str(exc), direct=direct)
    return Outcome(file, "skipped" if done.replayed else "uploaded", done.image, direct=direct)


def upload_files(
    client: Client,
    files: Sequence[LocalFile],
    metadata: Metadata,
    *,
    jobs: int = 4,
    inline_limit: int = INLINE_LIMIT,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """``upload_one`` for every file, ``jobs`` at a time on threads sharing ``client``; the
    outcomes in the files' order. ``on_outcome`` is called (on this thread) as each one ends.

    An interruption (Ctrl-C) is raised at once, without waiting for the uploads in flight (one may
    wait long for a server that does not answer); their threads go on in the background. A normal
    exit of the interpreter would still wait for them (concurrent.futures joins its threads at
    exit): the CLI ends with ``os._exit`` to abandon them instead, which their keys make safe to
    redo."""
    outcomes: dict[int, Outcome] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="upload")
    running: dict[Future[Outcome], int] = {}
    try:
        # Submit as slots free up rather than all at once: an interruption leaves nothing queued.
        for index, file in enumerate(files):
            running[pool.submit(upload_one, client, file, metadata, inline_limit=inline_limit)] = index
            if len(running) >= max(1, jobs):
                _collect(running, outcomes, on_outcome)
        while running:
            _collect(running, outcomes, on_outcome)
    finally:
        pool.shutdown(wait=not running, cancel_futures=True)
    return [outcomes[i] for i in range(len(files))]


def _collect(
    running: dict[Future[Outcome], int],
    outcomes: dict[int, Outcome],
    on_outcome: Callable[[Outcome], None] | None,
) -> None:
    done, _ = wait(running, return_when=FIRST_COMPLETED)
    for future in done:
        outcome = future.result()
        outcomes[running.pop(future)] = outcome
        if on_outcome is not None:
            on_outcome(outcome)
