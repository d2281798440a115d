"""The BlobStore contract, for every adapter (see conftest.BLOB_STORES)."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aws_emulators import fresh_resources
from aws_faults import failing

from image_service.adapters import filesystem_blobs
from image_service.adapters.filesystem_blobs import FilesystemBlobStore
from image_service.adapters.s3_blobs import S3BlobStore
from image_service.domain.errors import BackendUnavailable, NotFound
from image_service.domain.renditions import RENDITIONS_PREFIX, rendition_key, rendition_prefix
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


# ---------------------------------------------------------------------- conditional create


def test_put_new_stores_only_the_first(blob_store: BlobStore) -> None:
    key = rendition_key("img-1", "w256")
    assert blob_store.put_new(key, b"first", "image/webp") is True
    assert blob_store.put_new(key, b"second", "image/jpeg") is False
    assert blob_store.get(key) == b"first", "the existing object is kept unchanged"
    assert blob_store.put_new("alice/img-1", b"plain keys too", "image/png") is True
    assert blob_store.put_new("alice/img-1", b"again", "image/png") is False
    assert blob_store.get("alice/img-1") == b"plain keys too"


def test_put_new_after_delete_stores_again(blob_store: BlobStore) -> None:
    key = rendition_key("img-1", "w256")
    assert blob_store.put_new(key, b"first", "image/webp")
    blob_store.delete(key)
    assert blob_store.put_new(key, b"remade", "image/webp")
    assert blob_store.get(key) == b"remade"


def test_put_new_racing_from_threads_stores_exactly_one(blob_store: BlobStore) -> None:
    """On moto (the s3 kinds) this shows that the adapter maps the losers' 412s to False under
    concurrency, not that S3 decides atomically: moto checks If-None-Match and then stores, with
    no lock between the two. On real S3 the decision is S3's; filesystem and memory are ours."""
    key = rendition_key("img-race", "w512")
    writers = 8
    barrier = threading.Barrier(writers)

    def attempt(n: int) -> bool:
        barrier.wait(timeout=10)
        return blob_store.put_new(key, f"writer {n} ".encode() * 4096, "image/webp")

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(attempt, range(writers)))
    assert results.count(True) == 1, results
    assert blob_store.get(key) == f"writer {results.index(True)} ".encode() * 4096


# ---------------------------------------------------------------------- delete by prefix

FOLDER_KEYS = {
    rendition_key("img-1", "w256"): b"a",
    rendition_key("img-1", "w512-webp"): b"bb",
    rendition_key("img-1", "nested/token"): b"ccc",
}
NEIGHBOUR_KEYS = {
    rendition_key("img-10", "w256"): b"starts like img-1, another image",
    rendition_key("img-2", "w256"): b"another image",
    "alice/img-1": b"the original",
    "img-1": b"a plain key",
}


def put_all(blob_store: BlobStore, objects: dict[str, bytes]) -> None:
    for key, data in objects.items():
        blob_store.put(key, data, "image/png")


def test_delete_prefix_removes_only_that_prefix(blob_store: BlobStore) -> None:
    put_all(blob_store, FOLDER_KEYS | NEIGHBOUR_KEYS)
    assert blob_store.delete_prefix(rendition_prefix("img-1")) == len(FOLDER_KEYS)
    assert not any(blob_store.exists(key) for key in FOLDER_KEYS)
    assert all(blob_store.get(key) == data for key, data in NEIGHBOUR_KEYS.items())
    assert blob_store.delete_prefix(rendition_prefix("img-1")) == 0, "nothing left: none deleted"
    assert blob_store.put_new(rendition_key("img-1", "w256"), b"remade", "image/webp"), (
        "the folder takes new objects after its deletion"
    )


def test_delete_prefix_of_nothing_is_zero(blob_store: BlobStore) -> None:
    assert blob_store.delete_prefix(rendition_prefix("never-had-any")) == 0
    assert blob_store.delete_prefix(RENDITIONS_PREFIX) == 0


def test_delete_prefix_of_the_namespace_removes_every_folder(blob_store: BlobStore) -> None:
    put_all(blob_store, FOLDER_KEYS | NEIGHBOUR_KEYS)
    renditions = [key for key in FOLDER_KEYS | NEIGHBOUR_KEYS if key.startswith(RENDITIONS_PREFIX)]
    assert blob_store.delete_prefix(RENDITIONS_PREFIX) == len(renditions)
    assert [key for key in NEIGHBOUR_KEYS if blob_store.exists(key)] == ["alice/img-1", "img-1"]


def test_delete_prefix_refuses_the_empty_prefix(blob_store: BlobStore) -> None:
    blob_store.put("alice/kept", b"x", "image/png")
    with pytest.raises(ValueError, match="empty prefix"):
        blob_store.delete_prefix("")
    assert blob_store.exists("alice/kept")


def test_folder_objects_are_listed_under_their_folder_ref(blob_store: BlobStore) -> None:
    assert isinstance(blob_store, BlobInventory)
    put_all(blob_store, FOLDER_KEYS | NEIGHBOUR_KEYS)
    folder = blob_store.folder_ref(rendition_prefix("img-1"))
    namespace = blob_store.folder_ref(RENDITIONS_PREFIX)
    listed = {blob.ref for blob in blob_store.inventory()}
    assert listed == {blob_store.ref(key) for key in FOLDER_KEYS | NEIGHBOUR_KEYS}
    assert {ref for ref in listed if ref.startswith(folder)} == {blob_store.ref(k) for k in FOLDER_KEYS}
    assert {ref for ref in listed if ref.startswith(namespace)} == {
        blob_store.ref(k) for k in FOLDER_KEYS | NEIGHBOUR_KEYS if k.startswith(RENDITIONS_PREFIX)
    }
    blob_store.delete_ref(blob_store.ref(rendition_key("img-1", "w256")))
    assert not blob_store.exists(rendition_key("img-1", "w256"))
    assert blob_store.exists(rendition_key("img-1", "w512-webp"))


# ---------------------------------------------------------------------- filesystem folders


@pytest.mark.parametrize(
    "prefix",
    [
        "../",
        "../../etc/",
        "/etc/",
        "~../",
        "~/",
        "~renditions/../../",  # not a folder (two levels): refused, not resolved
        "~renditions/img-1",  # no trailing slash: a key's start, not a folder
        "~Renditions/img-1/",
        "alice/",  # ordinary keys are hashed flat: there is no directory to delete
        "~renditions//",
    ],
)
def test_filesystem_refuses_a_prefix_that_is_not_one_of_its_folders(
    tmp_path: Path, fs_store: FilesystemBlobStore, prefix: str
) -> None:
    fs_store.put(rendition_key("img-1", "w256"), DATA, "image/png")
    fs_store.put("alice/img-1", DATA, "image/png")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match="not a folder"):
        fs_store.delete_prefix(prefix)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("folder", ["..", ".", "..\\..\\x", "ünï", "a\x00b"])
def test_filesystem_folder_names_are_hashed_too(fs_store: FilesystemBlobStore, folder: str) -> None:
    key = f"{RENDITIONS_PREFIX}{folder}/token"
    assert fs_store.put_new(key, DATA, "image/png")
    relative = fs_store.path_for(key).resolve().relative_to(fs_store.root.resolve())
    assert re.fullmatch(r"~renditions/[0-9a-f]{2}/[0-9a-f]{64}/[0-9a-f]{64}", relative.as_posix())
    assert files_under(fs_store.root) == [fs_store.path_for(key)]
    assert fs_store.delete_prefix(f"{RENDITIONS_PREFIX}{folder}/") == 1
    assert files_under(fs_store.root) == []


def test_filesystem_put_new_leaves_no_temp_files(fs_store: FilesystemBlobStore) -> None:
    for n in range(10):
        fs_store.put_new(rendition_key("img-1", f"t{n % 3}"), DATA, "image/png")
        fs_store.put_new(f"alice/{n % 3}", DATA, "image/png")
    files = files_under(fs_store.root)
    assert len(files) == 6
    assert not [p for p in files if p.name.startswith(".")]


def test_filesystem_failed_put_new_stores_nothing(
    fs_store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(filesystem_blobs.os, "fsync", full_disk)
    with pytest.raises(BackendUnavailable, match="disk full"):
        fs_store.put_new(rendition_key("img-1", "w256"), DATA, "image/png")
    monkeypatch.undo()
    assert files_under(fs_store.root) == []
    assert fs_store.put_new(rendition_key("img-1", "w256"), DATA, "image/png"), "nothing was claimed"


def test_filesystem_a_crashed_write_leaves_its_temp_file_outside_the_folder(
    fs_store: FilesystemBlobStore,
) -> None:
    """A temp file a crash left behind is an orphan for fsck, never one of the folder's objects."""
    key = rendition_key("img-1", "w256")
    fs_store._write_temp(fs_store.path_for(key), DATA)  # a write killed before its link
    [leftover] = files_under(fs_store.root)
    assert leftover.name.startswith(".tmp-")
    assert not leftover.as_posix().startswith(fs_store.path_for(key).parent.as_posix())
    ref = leftover.relative_to(fs_store.root).as_posix()
    assert ref.startswith(fs_store.folder_ref(RENDITIONS_PREFIX))
    assert not ref.startswith(fs_store.folder_ref(rendition_prefix("img-1")))
    assert [b.ref for b in fs_store.inventory()] == [ref]
    assert fs_store.delete_prefix(rendition_prefix("img-1")) == 0


RACER = """
import sys, time
from pathlib import Path
from image_service.adapters.filesystem_blobs import FilesystemBlobStore
root, key, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
store = FilesystemBlobStore(root)
deadline = time.monotonic() + 30
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
print(store.put_new(key, ("process " + sys.argv[4]).encode() * 4096, "image/webp"))
"""


def test_filesystem_put_new_racing_from_processes_stores_exactly_one(
    tmp_path: Path, fs_store: FilesystemBlobStore
) -> None:
    key, go = rendition_key("img-race", "w256"), tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(fs_store.root), key, str(go), str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    go.touch()
    answers = [racer.communicate(timeout=60)[0].strip() for racer in racers]
    assert sorted(answers) == ["False", "False", "False", "True"], answers
    assert fs_store.get(key) == f"process {answers.index('True')}".encode() * 4096
    assert files_under(fs_store.root) == [fs_store.path_for(key)], "no temp file left"


def test_filesystem_delete_prefix_removes_the_folder_directory(fs_store: FilesystemBlobStore) -> None:
    put_all(fs_store, FOLDER_KEYS)
    folder = fs_store.path_for(rendition_key("img-1", "w256")).parent
    assert folder.is_dir()
    fs_store.delete_prefix(rendition_prefix("img-1"))
    assert not folder.exists()
    first, second = rendition_key("img-1", "a"), rendition_key("img-1", "b")
    put_all(fs_store, {first: b"a", second: b"b"})
    fs_store.delete_ref(fs_store.ref(first))
    assert folder.is_dir(), "a folder with an object left stays"
    fs_store.delete_ref(fs_store.ref(second))
    assert not folder.exists(), "fsck's deletes take an emptied folder too"


# ---------------------------------------------------------------------- S3 only


@pytest.fixture
def s3_store() -> S3BlobStore:
    return fresh_resources().blobs()


def test_s3_put_new_retries_a_conflict(s3_store: S3BlobStore) -> None:
    """409 ConditionalRequestConflict (a concurrent delete finished during our write; moto never
    answers it, so it is injected) says nothing of whether an object exists: retried."""
    key = rendition_key("img-1", "w256")
    with failing(s3_store._clients.s3, "PutObject", "ConditionalRequestConflict", times=1, status=409):
        assert s3_store.put_new(key, b"stored on the retry", "image/webp") is True
    assert s3_store.get(key) == b"stored on the retry"
    with failing(s3_store._clients.s3, "PutObject", "ConditionalRequestConflict", times=1, status=409):
        assert s3_store.put_new(key, b"other", "image/webp") is False, "the retry finds it: 412"
    with (
        failing(s3_store._clients.s3, "PutObject", "ConditionalRequestConflict", status=409) as fault,
        pytest.raises(BackendUnavailable, match="busy"),
    ):
        s3_store.put_new(rendition_key("img-2", "w256"), b"never", "image/webp")
    assert fault.calls == 3
    assert not s3_store.exists(rendition_key("img-2", "w256"))


def test_s3_delete_prefix_deletes_in_batches_of_1000(s3_store: S3BlobStore) -> None:
    keys = [rendition_key("img-1", f"t{n:04d}") for n in range(1003)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: s3_store.put(key, b"x", "image/png"), keys))
    s3_store.put(rendition_key("img-2", "t"), b"kept", "image/png")
    calls: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["Delete"]["Objects"]))

    events = s3_store._clients.s3.meta.events
    events.register("provide-client-params.s3.DeleteObjects", count, unique_id="count-deletes")
    try:
        assert s3_store.delete_prefix(rendition_prefix("img-1")) == len(keys)
    finally:
        events.unregister("provide-client-params.s3.DeleteObjects", unique_id="count-deletes")
    assert calls == [1000, 3]
    assert [b.ref for b in s3_store.inventory()] == [rendition_key("img-2", "t")]


def test_s3_delete_prefix_reports_objects_s3_kept(s3_store: S3BlobStore) -> None:
    put_all(s3_store, FOLDER_KEYS)

    def refuse_one(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Errors"] = [{"Key": rendition_key("img-1", "w256"), "Code": "AccessDenied"}]

    events = s3_store._clients.s3.meta.events
    events.register("after-call.s3.DeleteObjects", refuse_one, unique_id="refuse-one")
    try:
        with pytest.raises(BackendUnavailable, match="kept 1 objects"):
            s3_store.delete_prefix(rendition_prefix("img-1"))
    finally:
        events.unregister("after-call.s3.DeleteObjects", unique_id="refuse-one")
