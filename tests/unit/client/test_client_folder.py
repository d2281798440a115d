"""Folder uploads: which files are found, the Idempotency-Key each one is sent under, and the
outcomes of a parallel run (on httpx's MockTransport)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import httpx
from client_answers import image_json

from image_service.client import Client
from image_service.client.folder import find_files, upload_files, upload_key


def make_tree(root: Path) -> Path:
    folder = root / "photos"
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / ".cache").mkdir()
    for path in ("b.png", "a.png", ".hidden.png", "sub/c.png", "sub/deeper/d.png", ".cache/e.png"):
        (folder / path).write_bytes(path.encode())
    os.mkfifo(folder / "pipe.png")
    return folder


def test_a_folder_gives_its_visible_regular_files_in_order(tmp_path: Path) -> None:
    folder = make_tree(tmp_path)
    assert [f.relative for f in find_files([folder])] == ["photos/a.png", "photos/b.png"]
    found = find_files([folder, folder / ".hidden.png"], recursive=True)
    assert [f.relative for f in found] == [
        "photos/a.png", "photos/b.png", "photos/sub/c.png", "photos/sub/deeper/d.png", ".hidden.png",
    ]  # fmt: skip
    assert found[0].size == len(b"a.png") and found[0].path == folder / "a.png"


def test_a_symlinked_folder_is_not_followed(tmp_path: Path) -> None:
    """A link back up would recurse until the path is too long; one elsewhere leaves the folder."""
    folder = make_tree(tmp_path)
    (folder / "sub" / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "linked.png").symlink_to(folder / "a.png")  # a linked file is read, as a file
    found = find_files([folder], recursive=True)
    assert [f.relative for f in found] == [
        "photos/a.png", "photos/b.png", "photos/linked.png", "photos/sub/c.png", "photos/sub/deeper/d.png",
    ]  # fmt: skip


def test_the_key_names_the_bytes_the_path_the_metadata_and_the_flow() -> None:
    key = upload_key(b"data", "photos/a.png", {"title": "t", "tags": ["x"]}, direct=False)
    assert key == upload_key(b"data", "photos/a.png", {"tags": ["x"], "title": "t"}, direct=False)
    assert len(key) <= 255 and all("!" <= c <= "~" for c in key)
    others = {
        upload_key(b"datA", "photos/a.png", {"title": "t", "tags": ["x"]}, direct=False),
        upload_key(b"data", "photos/b.png", {"title": "t", "tags": ["x"]}, direct=False),
        upload_key(b"data", "photos/a.png", {"title": "u", "tags": ["x"]}, direct=False),
        upload_key(b"data", "photos/a.png", {"title": "t", "tags": ["x"]}, direct=True),
    }
    assert key not in others and len(others) == 4


def test_a_run_reports_each_file_in_order_and_replays_as_skipped(tmp_path: Path) -> None:
    folder = make_tree(tmp_path)
    files = find_files([folder], recursive=True)
    (folder / "b.png").unlink()  # gone between the walk and the upload
    keys: dict[str, int] = {}
    lock = threading.Lock()

    def server(request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        with lock:
            keys[key] = keys.get(key, 0) + 1
            seen = keys[key]
        if b"c.png" in request.content:
            return httpx.Response(415, json={"error": "not a supported image"})
        meta = image_json(key[-8:])
        headers = {"Idempotent-Replayed": "true"} if seen > 1 else {}
        return httpx.Response(
            201, json={"message": "ok", "image_id": key[-8:], "metadata": meta}, headers=headers
        )

    seen_outcomes: list[str] = []
    with Client("http://api.test", "k", transport=httpx.MockTransport(server)) as client:
        first = upload_files(
            client, files, {"title": "t"}, jobs=3, on_outcome=lambda o: seen_outcomes.append(o.status)
        )
        again = upload_files(client, files, {"title": "t"}, jobs=3)
    assert [(o.file.relative, o.status) for o in first] == [
        ("photos/a.png", "uploaded"), ("photos/b.png", "failed"), ("photos/sub/c.png", "failed"),
        ("photos/sub/deeper/d.png", "uploaded"),
    ]  # fmt: skip
    assert first[1].error == "No such file or directory"
    assert first[2].error == "not a supported image (HTTP 415)"
    assert sorted(seen_outcomes) == ["failed", "failed", "uploaded", "uploaded"]
    assert [o.status for o in again] == ["skipped", "failed", "failed", "skipped"]
    assert [o.image.image_id for o in again if o.image] == [o.image.image_id for o in first if o.image]
    assert json.dumps(sorted(keys.values())) == "[2, 2, 2]"  # a.png, d.png twice; c.png refused twice
