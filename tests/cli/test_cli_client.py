"""The client commands (`upload`, `ls`, `get`, `rm`, `edit`) as a user runs them: the installed
`image-service` in a subprocess, against a real server on each backend (``server_backend``,
tests/conftest.py).

The server's MAX_IMAGE_SIZE is small, so that an over-size file is a few kilobytes: the images
here are 16x16 PNGs of about 100 bytes, and a "large" file (for the direct-upload flow) is a
noise PNG of some kilobytes, over the `--inline-limit` the test passes. Each test counts what it
stored through the API by a title or tag unique to it, so the other tests' images on the same
server never disturb a count.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import noise_png, unique
from api_server import Server, start_server
from PIL import Image as PILImage
from stalling_proxy import StallingProxy

from image_service.client import ApiError, Client

pytestmark = pytest.mark.api

EXE = Path(sys.executable).with_name("image-service")
MAX_IMAGE_SIZE = 40_000


@pytest.fixture(scope="session")
def client_server(tmp_path_factory: pytest.TempPathFactory, server_backend: str) -> Iterator[Server]:
    srv = start_server(tmp_path_factory, "client-cli", server_backend, MAX_IMAGE_SIZE=str(MAX_IMAGE_SIZE))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def alice_key(client_server: Server) -> str:
    return client_server.create_key("alice")


def run(
    server: Server | None, key: str | None, *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The CLI with the server and key in IMAGE_SERVICE_URL and IMAGE_SERVICE_KEY, as a user sets them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGE_SERVICE_", "AWS_"))}
    env["COLUMNS"] = "200"
    if server is not None:
        env["IMAGE_SERVICE_URL"] = server.base_url
    if key is not None:
        env["IMAGE_SERVICE_KEY"] = key
    return subprocess.run(
        [str(EXE), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def small_png(seed: int, width: int = 16, height: int = 16) -> bytes:
    """A valid PNG whose bytes differ for every seed."""
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (seed % 256, seed // 256 % 256, 77)).save(out, format="PNG")
    return out.getvalue()


def titled(client: Client, title: str) -> list[Any]:
    """Every image with exactly this title (the title is a unique word: the search finds it)."""
    return [i for i in client.iter_images(q=title) if i.title == title]


def make_folder(root: Path, valid: int) -> Path:
    folder = root / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(valid):
        where = folder / "sub" if i % 3 == 0 else folder
        (where / f"img{i:02d}.png").write_bytes(small_png(i))
    return folder


def test_uploading_a_folder_reports_exactly_the_failures_and_a_rerun_skips_the_rest(
    client_server: Server, alice_key: str, tmp_path: Path
) -> None:
    title = unique("folder").replace("-", "")
    folder = make_folder(tmp_path, 27)
    (folder / "notes.txt").write_text("not an image")
    (folder / "sub" / "truncated.png").write_bytes(small_png(999, 64, 64)[:-20])
    (folder / "huge.png").write_bytes(noise_png(130, 130))  # over the server's MAX_IMAGE_SIZE
    assert (folder / "huge.png").stat().st_size > MAX_IMAGE_SIZE
    (folder / ".hidden.png").write_bytes(small_png(1000))  # hidden: left out
    os.mkfifo(folder / "pipe.png")  # not a regular file: left out (reading it would block)

    args = ("upload", str(folder), "--recursive", "--title", title, "--tag", "Holiday", "--jobs", "4")
    first = run(client_server, alice_key, *args)
    assert first.returncode == 1, first.stderr
    assert first.stdout.strip() == "uploaded 27, skipped 0 (already uploaded), failed 3 of 30 files"
    errors = sorted(error_lines(first))
    assert len(errors) == 3, first.stderr
    assert errors[0].startswith(f"error: {folder / 'huge.png'}: ") and errors[0].endswith("(HTTP 413)")
    assert errors[1].startswith(f"error: {folder / 'notes.txt'}: ") and errors[1].endswith("(HTTP 415)")
    assert errors[2].startswith(f"error: {folder / 'sub' / 'truncated.png'}: ")
    assert errors[2].endswith("(HTTP 415)")

    with Client(client_server.base_url, alice_key) as client:
        stored = titled(client, title)
        assert len(stored) == 27
        assert {i.filename for i in stored} == {f"img{i:02d}.png" for i in range(27)}
        assert all(i.tags == ["holiday"] and i.user_id == "alice" for i in stored)

        again = run(client_server, alice_key, *args)
        assert again.returncode == 1, again.stderr
        assert again.stdout.strip() == "uploaded 0, skipped 27 (already uploaded), failed 3 of 30 files"
        assert len(titled(client, title)) == 27


def test_a_rerun_after_interrupting_the_upload_midway_stores_no_duplicates(
    client_server: Server, alice_key: str, tmp_path: Path
) -> None:
    """The proxy lets 5 uploads through and keeps the 6th one's answer (stored, never heard of);
    the CLI is interrupted there (Ctrl-C) and ends at once, saying how far it got. The second
    run, straight to the server, uploads only the rest."""
    title = unique("killed").replace("-", "")
    folder = make_folder(tmp_path, 30)
    args = ("upload", str(folder), "-r", "--title", title, "--jobs", "1", "--key", alice_key)
    with StallingProxy(client_server.base_url, answered=5) as proxy:
        err = tmp_path / "err.log"
        with err.open("w") as stderr:
            cli = subprocess.Popen(
                [str(EXE), *args, "--url", proxy.url], stdout=subprocess.DEVNULL, stderr=stderr
            )
        try:
            assert proxy.stalled.wait(timeout=30), err.read_text()
            assert cli.poll() is None, "the upload ended before it could be interrupted"
            cli.send_signal(signal.SIGINT)
            assert cli.wait(timeout=20) == 130  # while the 6th upload still waits for its answer
        finally:
            cli.kill()
            cli.wait(timeout=10)
    assert error_lines(subprocess.CompletedProcess(args, 130, "", err.read_text())) == [
        "error: interrupted: uploaded 5, skipped 0 (already uploaded), failed 0 of 30 files; "
        "run it again to upload the rest"
    ]
    with Client(client_server.base_url, alice_key) as client:
        assert len(titled(client, title)) == 6  # the 6th was stored although the CLI never knew
        again = run(None, None, *args, "--url", client_server.base_url)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == "uploaded 24, skipped 6 (already uploaded), failed 0 of 30 files"
        stored = titled(client, title)
    assert len(stored) == 30
    assert len({i.checksum_sha256 for i in stored}) == 30


def test_a_large_file_goes_through_the_direct_upload_flow(
    client_server: Server, alice_key: str, tmp_path: Path
) -> None:
    title = unique("direct").replace("-", "")
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    big.write_bytes(noise_png(60, 60))
    small.write_bytes(small_png(5))
    assert 4096 < big.stat().st_size < MAX_IMAGE_SIZE
    args = ("upload", str(big), str(small), "--title", title, "--inline-limit", "4096", "--json")
    result = run(client_server, alice_key, *args)
    assert result.returncode == 0, result.stderr
    lines = {Path(line["path"]).name: line for line in json_lines(result.stdout)}
    assert (lines["big.png"]["direct"], lines["small.png"]["direct"]) == (True, False)
    assert {line["status"] for line in lines.values()} == {"uploaded"}
    big_id = lines["big.png"]["image_id"]
    log = client_server.stderr()
    assert f'"path":"/images/{big_id}/complete"' in log.replace(": ", ":")
    with Client(client_server.base_url, alice_key) as client:
        image = client.get_image(big_id)
        assert (image.size, image.width, image.filename) == (big.stat().st_size, 60, "big.png")
        assert client.content(big_id) == big.read_bytes()
        # A re-run replays the direct start, finds the image completed and sends nothing again.
        again = run(client_server, alice_key, *args)
        assert again.returncode == 0, again.stderr
        assert {line["status"] for line in json_lines(again.stdout)} == {"skipped"}
        assert len(titled(client, title)) == 2


def test_ls_filters_follows_pages_and_prints_json_lines(
    client_server: Server, alice_key: str, tmp_path: Path
) -> None:
    """What the command itself does: its options as the API's filters, --limit across pages, the
    table. Each filter's meaning is the server's (tests/api), the paging the client's
    (tests/unit/client)."""
    tag = unique("ls")
    # Markup to rich, were it read as markup: a crash ("[/x]" closes nothing) or restyling.
    markup = "[/x] cat [link=https://e.example]a[/link] [red]r"  # short: one line in its column
    with Client(client_server.base_url, alice_key) as client:
        ids = [
            client.upload(
                small_png(2000 + i),
                title=markup if i == 0 else f"sunset {i}" if i % 2 else f"harbour {i}",
                tags=[tag],
                category="sea" if i < 3 else "land",
                visibility="private" if i >= 4 else "public",
            ).image.image_id
            for i in range(6)
        ]
    newest_first = ids[::-1]

    def ls(*args: str) -> list[dict[str, Any]]:
        result = run(client_server, alice_key, "ls", "--tag", tag, "--json", *args)
        assert result.returncode == 0, result.stderr
        return json_lines(result.stdout)

    # --limit across pages of 3: newest first, each image once.
    assert [i["image_id"] for i in ls("--limit", "4", "--page-size", "3")] == newest_first[:4]
    found = ls("--user", "alice", "--category", "land", "--private", "-q", "sunset")
    assert [i["image_id"] for i in found] == [ids[5]]  # private land sunsets
    assert found[0]["thumbnail_url"] and found[0]["access_count"] == 0 and found[0]["width"] == 16

    table = run(client_server, alice_key, "ls", "--tag", tag, "--all")
    assert table.returncode == 0, table.stderr
    assert "Traceback" not in table.stderr
    lines = table.stdout.splitlines()
    header = next(line for line in lines if line.strip().startswith("id"))
    assert header.split() == [
        "id",
        "name",
        "title",
        "size",
        "dimensions",
        "visibility",
        "accesses",
        "created",
    ]
    assert all(image_id in table.stdout for image_id in ids)
    assert "\x1b" not in table.stdout  # no style, no hyperlink escape
    assert markup in table.stdout  # as written


def test_get_writes_the_image_or_a_rendition(client_server: Server, alice_key: str, tmp_path: Path) -> None:
    name = f"{unique('get')}.png"
    with Client(client_server.base_url, alice_key) as client:
        original = small_png(7, 300, 200)
        image = client.upload(original, name=name, filename="wide.png").image
        out = tmp_path / "thumb.png"
        by_id = run(client_server, alice_key, "get", image.image_id, "--w", "128", "-o", str(out))
        assert by_id.returncode == 0, by_id.stderr
        with PILImage.open(out) as thumb:
            assert thumb.size == (128, 85)
        by_name = run(client_server, alice_key, "get", name, "--w", "64", "--format", "webp", cwd=tmp_path)
        assert by_name.returncode == 0, by_name.stderr
        with PILImage.open(tmp_path / "wide.webp") as webp:  # the server's file name, as WebP
            assert (webp.format, webp.width) == ("WEBP", 64)
        again = run(client_server, alice_key, "get", name, "--w", "128", "--format", "webp", cwd=tmp_path)
        assert again.returncode == 2
        assert error_lines(again) == ["error: wide.webp exists: give -o FILE, or --force to overwrite it"]
        forced = run(
            client_server, alice_key, "get", name, "--w", "128", "--format", "webp", "-f", cwd=tmp_path
        )
        assert forced.returncode == 0, forced.stderr
        with PILImage.open(tmp_path / "wide.webp") as webp:
            assert webp.width == 128
        to_stdout = [str(EXE), "get", image.image_id, "-o", "-", "--url", client_server.base_url]
        whole = subprocess.run([*to_stdout, "--key", alice_key], capture_output=True, timeout=60, check=False)
        assert (whole.returncode, whole.stdout) == (0, original)
        assert client.content(image.image_id) == original
        assert client.get_image(image.image_id).access_count == 6
    assert list(tmp_path.glob(".*.part")) == []


def test_get_never_writes_a_hidden_file_or_outside_the_folder(
    client_server: Server, alice_key: str, tmp_path: Path
) -> None:
    with Client(client_server.base_url, alice_key) as client:
        image = client.upload(small_png(7100), filename=".bashrc").image
    assert image.filename == ".bashrc"
    (tmp_path / "work").mkdir()
    result = run(client_server, alice_key, "get", image.image_id, cwd=tmp_path / "work")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == [f"{image.image_id}.png"]


def test_rm_deletes_one_or_several(client_server: Server, alice_key: str) -> None:
    with Client(client_server.base_url, alice_key) as client:
        ids = [client.upload(small_png(3000 + i)).image.image_id for i in range(3)]
        one = run(client_server, alice_key, "rm", ids[0])
        assert (one.returncode, one.stdout.strip()) == (0, f"deleted {ids[0]}")
        several = run(client_server, alice_key, "rm", ids[1], ids[2], ids[0])
        assert several.returncode == 1, several.stderr
        assert several.stdout.split() == ["deleted", ids[1], "deleted", ids[2]]
        assert error_lines(several) == [f"error: {ids[0]}: not found"]
        for image_id in ids:
            with pytest.raises(ApiError) as gone:
                client.get_image(image_id)
            assert gone.value.status == 404


def test_edit_changes_metadata(client_server: Server, alice_key: str) -> None:
    with Client(client_server.base_url, alice_key) as client:
        image = client.upload(small_png(4000), title="before", category="old", tags=["a"]).image
    new_name = f"{unique('edit')}.png"
    args = ("edit", image.image_id, "--title", "after", "--tag", "X", "--tag", "y", "--visibility", "private")
    edited = run(client_server, alice_key, *args, "--category", "", "--name", new_name)
    assert edited.returncode == 0, edited.stderr
    meta = json.loads(edited.stdout)
    assert (meta["title"], meta["tags"], meta["visibility"], meta["category"], meta["name"]) == (
        "after", ["x", "y"], "private", None, new_name,
    )  # fmt: skip
    hidden = run(client_server, None, "get", new_name, "-o", "-")  # anonymous: private now
    assert hidden.returncode == 1
    assert error_lines(hidden) == ["error: image not found (HTTP 404)"]


@pytest.mark.only_backend(
    "local", reason="the line is the client's; both backends answer these errors alike (tests/api)"
)
def test_a_refused_request_is_one_line(client_server: Server, alice_key: str, tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(small_png(5000))
    wrong_key = run(client_server, "isk_wrong", "upload", str(tmp_path / "a.png"))
    assert wrong_key.returncode == 1
    assert len(error_lines(wrong_key)) == 1 and error_lines(wrong_key)[0].endswith("(HTTP 401)")
    bad_filter = run(client_server, alice_key, "ls", "-q", ",,,")
    assert bad_filter.returncode == 1
    assert error_lines(bad_filter)[0].endswith("(HTTP 400)")


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    result = run(None, None, "ls", "--url", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert error_lines(result) == [
        "error: cannot reach http://127.0.0.1:9/images: cannot connect ([Errno 111] Connection refused)"
    ]
    missing = run(None, None, "upload", str(tmp_path / "nope.png"))
    assert missing.returncode == 2
    assert error_lines(missing) == [f"error: {tmp_path / 'nope.png'}: No such file or directory"]
    nothing = run(None, None, "edit", "some-id")
    assert nothing.returncode == 2
    assert error_lines(nothing)[0].startswith("error: nothing to change")


def test_the_client_commands_are_documented() -> None:
    """Their two variables, in the docs a user reads, and never among the server's settings."""
    from image_service.settings import Settings

    cli_doc = (Path(__file__).parents[2] / "docs" / "CLI.md").read_text()
    assert "IMAGE_SERVICE_URL" in cli_doc and "IMAGE_SERVICE_KEY" in cli_doc
    aliases = [f.validation_alias for f in Settings.model_fields.values()]
    names = {str(n) for alias in aliases for n in getattr(alias, "choices", [alias])}
    assert not names & {"IMAGE_SERVICE_URL", "IMAGE_SERVICE_KEY"}
