"""The BlobStore contract, for every adapter (see conftest.BLOB_STORES)."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from image_service.adapters import filesystem_blobs
from image_service.adapters.filesystem_blobs import FilesystemBlobStore
from image_service.domain.errors import BackendUnavailable, NotFound
from image_service.ports import BlobInventory, BlobStore

DATA = bytes(range(256)) * 4  # 1024 bytes, every offset holds a different (offset % 256)
HOSTILE_KEYS = [
    "../../etc/passwd",
    "a/../../b",
    "/etc/passwd",
    "..",
    ".",
    "C:\\Windows\\win.ini",
    "alice/../../../tmp/x",
    "k\x00ey",
    "ünïcödé/ключ",
]


def test_put_then_get_returns_the_same_bytes(blob_store: BlobStore) -> None:
    blob_store.put("alice/one", DATA, "image/png")
    assert blob_store.get("alice/one") == DATA


def test_empty_object_round_trips(blob_store: BlobStore) -> None:
    blob_store.put("empty", b"", "image/png")
    assert blob_store.get("empty") == b""
    assert blob_store.exists("empty")


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 0, DATA[:1]),
        (0, 9, DATA[:10]),
        (10, 19, DATA[10:20]),
        (1023, 1023, DATA[1023:]),
        (1000, 5000, DATA[1000:]),  # end past the object: up to its end
        (100, None, DATA[100:]),  # open end
        (0, None, DATA),
    ],
)
def test_ranged_get_is_inclusive(blob_store: BlobStore, start: int, end: int | None, expected: bytes) -> None:
    blob_store.put("ranged", DATA, "image/png")
    assert blob_store.get("ranged", start, end) == expected


def test_put_overwrites(blob_store: BlobStore) -> None:
    blob_store.put("k", b"first version", "image/png")
    blob_store.put("k", b"second", "image/jpeg")
    assert blob_store.get("k") == b"second"


def test_keys_are_independent(blob_store: BlobStore) -> None:
    blob_store.put("alice/1", b"one", "image/png")
    blob_store.put("alice/2", b"two", "image/png")
    blob_store.delete("alice/1")
    assert blob_store.get("alice/2") == b"two"
    assert not blob_store.exists("alice/1")


def test_delete_removes_and_missing_is_fine(blob_store: BlobStore) -> None:
    blob_store.put("gone", DATA, "image/png")
    assert blob_store.exists("gone")
    blob_store.delete("gone")
    assert not blob_store.exists("gone")
    with pytest.raises(NotFound):
        blob_store.get("gone")
    blob_store.delete("gone")
    blob_store.delete("never-existed")


def test_get_missing_is_not_found(blob_store: BlobStore) -> None:
    assert not blob_store.exists("missing")
    with pytest.raises(NotFound):
        blob_store.get("missing")
    with pytest.raises(NotFound):
        blob_store.get("missing", 0, 10)


def test_ping_answers(blob_store: BlobStore) -> None:
    blob_store.ping()


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_any_key_text_round_trips(blob_store: BlobStore, key: str) -> None:
    blob_store.put(key, DATA, "image/png")
    assert blob_store.exists(key)
    assert blob_store.get(key) == DATA
    blob_store.delete(key)
    assert not blob_store.exists(key)


# ---------------------------------------------------------------------- filesystem only


@pytest.fixture
def fs_store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_filesystem_leaves_no_temp_files(fs_store: FilesystemBlobStore) -> None:
    for n in range(20):
        fs_store.put(f"k{n % 7}", DATA[: n * 10], "image/png")
    files = files_under(fs_store.root)
    assert len(files) == 7
    assert not [p for p in files if p.name.startswith(".")]


def test_filesystem_failed_write_keeps_old_object_and_no_temp_file(
    fs_store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs_store.put("k", b"old bytes", "image/png")

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(filesystem_blobs.os, "fsync", full_disk)
    with pytest.raises(BackendUnavailable, match="disk full"):
        fs_store.put("k", b"new bytes", "image/png")
    with pytest.raises(BackendUnavailable):
        fs_store.put("other", b"new bytes", "image/png")
    monkeypatch.undo()

    assert fs_store.get("k") == b"old bytes"
    assert not fs_store.exists("other")
    assert files_under(fs_store.root) == [fs_store.path_for("k")]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_filesystem_path_never_contains_the_key(
    tmp_path: Path, fs_store: FilesystemBlobStore, key: str
) -> None:
    neighbours = set(os.listdir(tmp_path.parent))
    fs_store.put(key, DATA, "image/png")
    path = fs_store.path_for(key)
    relative = path.resolve().relative_to(fs_store.root.resolve())  # raises if outside the root
    assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}", relative.as_posix())
    assert relative.parts[2].startswith(relative.parts[0] + relative.parts[1])
    assert files_under(fs_store.root) == [path]
    # Nothing was written beside the root either.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs"]
    assert set(os.listdir(tmp_path.parent)) == neighbours


def test_filesystem_ping_fails_without_its_directory(fs_store: FilesystemBlobStore) -> None:
    fs_store.root.rmdir()
    with pytest.raises(BackendUnavailable):
        fs_store.ping()


def test_the_store_serves_fsck_too(blob_store: BlobStore) -> None:
    assert isinstance(blob_store, BlobInventory), "fsck reaches it as FsckStores.of(ctx).blobs"


def test_inventory_lists_every_object_under_its_ref(blob_store: BlobStore) -> None:
    blob_store.put("alice/one", DATA, "image/png")
    blob_store.put("bob/two", b"xy", "image/png")
    listed = {blob.ref: blob for blob in blob_store.inventory()}
    assert set(listed) == {blob_store.ref("alice/one"), blob_store.ref("bob/two")}
    assert listed[blob_store.ref("bob/two")].size == 2
    assert all(blob.modified.tzinfo is not None for blob in listed.values())


def test_delete_ref_removes_the_object(blob_store: BlobStore) -> None:
    blob_store.put("alice/one", DATA, "image/png")
    blob_store.put("alice/two", DATA, "image/png")
    blob_store.delete_ref(blob_store.ref("alice/one"))
    assert not blob_store.exists("alice/one")
    assert blob_store.exists("alice/two")
    assert [b.ref for b in blob_store.inventory()] == [blob_store.ref("alice/two")]
