"""FilesystemBlobStore.get reads a file with pread(2) at the size fstat gives: a read that returns
fewer bytes (a signal, a huge file) goes on where it stopped, and ranges read what they name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from image_service.adapters.filesystem_blobs import FilesystemBlobStore

DATA = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    blobs.put("k", DATA, "image/png")
    return blobs


@pytest.mark.parametrize(("start", "end"), [(None, None), (0, 0), (5, 4000), (4000, None), (10_000, 99_999)])
def test_short_reads_go_on_where_they_stopped(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch, start: int | None, end: int | None
) -> None:
    real_pread = os.pread
    calls: list[int] = []

    def short_pread(fd: int, length: int, offset: int) -> bytes:
        calls.append(length)
        return real_pread(fd, min(length, 1000), offset)

    monkeypatch.setattr(os, "pread", short_pread)
    first = start or 0
    expected = DATA[first:] if end is None else DATA[first : end + 1]
    assert store.get("k", start, end) == expected
    assert len(calls) == max(1, -(-len(expected) // 1000))


def test_a_range_past_the_end_is_empty(store: FilesystemBlobStore) -> None:
    assert store.get("k", len(DATA), None) == b""
    assert store.get("k", len(DATA) + 5, len(DATA) + 9) == b""
