"""`image-service upload PATH...`: files and folders to a running server, a few at a time.

Every file is sent under an Idempotency-Key derived from it (image_service.client.folder), so
running the same command again after an interruption or failures uploads only what is missing.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from image_service.cli.client_options import Key, Url, connect
from image_service.cli.errors import FAILED, err, fail, say_error
from image_service.client.defaults import DEFAULT_URL, INLINE_LIMIT

if TYPE_CHECKING:
    from image_service.client.folder import Outcome

INTERRUPTED = 130  # a shell's status for a command ended by Ctrl-C


def upload_command(
    paths: Annotated[list[Path], typer.Argument(help="Image files and folders", show_default=False)],
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable)")] = None,
    title: Annotated[str | None, typer.Option(help="Title of every image")] = None,
    description: Annotated[str | None, typer.Option(help="Description of every image")] = None,
    category: Annotated[str | None, typer.Option(help="Category of every image")] = None,
    private: Annotated[bool, typer.Option("--private", help="Only you (and admins) see them")] = False,
    name: Annotated[str | None, typer.Option(help="The unique name (one file only)")] = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Also upload subfolders")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=32, help="Uploads at a time")] = 4,
    inline_limit: Annotated[
        int, typer.Option(min=1, help="Larger files go through the direct-upload flow (bytes)")
    ] = INLINE_LIMIT,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON line per file on stdout")] = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Upload image files and folders, a few files at a time.

    Hidden files and subfolders (without --recursive) are left out. Files already uploaded by an
    earlier run are skipped, so an interrupted upload can simply be run again. Exits 1 when any
    file failed, each with the server's reason."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from image_service.client.folder import find_files, upload_files
    from image_service.client.models import Metadata

    files = find_files(paths, recursive=recursive)
    if not files:
        fail("no files to upload" + ("" if recursive else " (folders inside folders need --recursive)"))
    if name is not None and len(files) > 1:
        fail(f"--name names one image, but {len(files)} files were given")
    metadata: Metadata = {"visibility": "private" if private else "public"}
    if title is not None:
        metadata["title"] = title
    if description is not None:
        metadata["description"] = description
    if category is not None:
        metadata["category"] = category
    if name is not None:
        metadata["name"] = name
    if tag:
        metadata["tags"] = tag
    counts = {"uploaded": 0, "skipped": 0, "failed": 0}
    columns = (
        TextColumn("uploading {task.fields[files]} files"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with connect(url, key) as client, Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("upload", total=sum(f.size for f in files), files=f"0/{len(files)}")

        def report(outcome: Outcome) -> None:
            counts[outcome.status] += 1
            bar.update(task, advance=outcome.file.size, files=f"{sum(counts.values())}/{len(files)}")
            if outcome.status == "failed":
                say_error(f"{outcome.file.path}: {outcome.error}")
            if json_lines:
                print(json.dumps(_outcome_json(outcome)), flush=True)

        try:
            upload_files(client, files, metadata, jobs=jobs, inline_limit=inline_limit, on_outcome=report)
        except KeyboardInterrupt:
            bar.stop()
            say_error(f"interrupted: {_summary(counts, len(files))}; run it again to upload the rest")
            sys.stdout.flush()
            sys.stderr.flush()
            # Not a normal exit, which would wait for the uploads still in flight (threads that
            # cannot be stopped) to end; each is safe to redo: the next run sends the same key.
            os._exit(INTERRUPTED)
    line = _summary(counts, len(files))
    if json_lines:
        err.print(line, highlight=False)
    else:
        print(line)
    if counts["failed"]:
        raise typer.Exit(FAILED)


def _summary(counts: dict[str, int], total: int) -> str:
    return (
        f"uploaded {counts['uploaded']}, skipped {counts['skipped']} (already uploaded), "
        f"failed {counts['failed']} of {total} files"
    )


def _outcome_json(outcome: Outcome) -> dict[str, object]:
    return {
        "path": str(outcome.file.path),
        "status": outcome.status,
        "image_id": outcome.image.image_id if outcome.image else None,
        "direct": outcome.direct,
        "error": outcome.error,
    }
