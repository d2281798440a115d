"""`image-service ls | get | rm | edit`: a running server's images, from the command line."""

from __future__ import annotations

import json
import mimetypes
import os
import re
import sys
import uuid
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from image_service.cli.client_options import Key, Url, connect
from image_service.cli.errors import FAILED, err, fail, say_error
from image_service.client.defaults import DEFAULT_URL
from image_service.domain import validation
from image_service.domain.models import Visibility as Visibilities

if TYPE_CHECKING:
    from image_service.client.models import Changes, Download, ListedImage, Rendition, Visibility

# What the server makes an image id of (a UUID, services/context.py): anything else given to
# `get` is a unique name. Not validation.IMAGE_ID_PATTERN, which accepts any id a backend may
# hold and so also most names ("cat" is both).
IMAGE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
PAGE_MAX = 100  # the server's largest page


def ls_command(
    user: Annotated[str | None, typer.Option("--user", help="Only this owner's images")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Every tag must match (repeatable)")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category")] = None,
    visibility: Annotated[str | None, typer.Option(help="public or private")] = None,
    private: Annotated[
        bool | None, typer.Option("--private/--public", help="Shorthand for --visibility", show_default=False)
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", "-q", help="Words in the title or description")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many images")] = 20,
    all_images: Annotated[bool, typer.Option("--all", help="Every matching image (no limit)")] = False,
    page_size: Annotated[
        int, typer.Option(min=1, max=PAGE_MAX, help="Images per request to the server")
    ] = PAGE_MAX,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """List images, newest first: a table, or JSON lines.

    Follows the server's pages up to --limit images (every one with --all)."""
    chosen = None if visibility is None else _visibility(visibility)
    if private is not None:
        implied: Visibility = "private" if private else "public"
        if chosen is not None and chosen != implied:
            fail(f"--visibility {visibility} and --{implied} disagree")
        chosen = implied
    filters: dict[str, Any] = {"user_id": user, "tag": tag, "category": category, "visibility": chosen}
    filters["q"] = query
    with connect(url, key) as client:
        found = client.iter_images(page_size=page_size if all_images else min(limit, page_size), **filters)
        images = found if all_images else islice(found, limit)
        if json_lines:
            for image in images:
                print(image.model_dump_json(), flush=True)
            return
        _print_table(list(images))


def _print_table(images: list[ListedImage]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    # The id must stay whole (it is what `get`, `rm` and `edit` take); name and title give way.
    table.add_column("id", min_width=36, no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("title", overflow="fold")
    for header in ("size", "dimensions", "visibility", "accesses", "created"):
        table.add_column(header, no_wrap=True, justify="right" if header in ("size", "accesses") else "left")
    for image in images:
        # Text, not markup: a title such as "[/x] my cat" or "[link=...]" is the server's data,
        # shown as written (as markup it would crash rich or restyle the terminal).
        cells = (
            image.image_id, image.name, image.title, _size(image.size), f"{image.width}x{image.height}",
            image.visibility, str(image.access_count), image.created_at.strftime("%Y-%m-%d"),
        )  # fmt: skip
        table.add_row(*(Text(cell) for cell in cells))
    Console().print(table)
    err.print(f"{len(images)} images", highlight=False)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def get_command(
    ref: Annotated[str, typer.Argument(metavar="ID_OR_NAME", help="An image id, or its unique name")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The file to write, '-' for stdout (default: the image's file name in this folder)",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Without -o: overwrite a file of the same name")
    ] = False,
    width: Annotated[int | None, typer.Option("--w", "--width", help="A rendition this wide")] = None,
    height: Annotated[int | None, typer.Option("--h", "--height", help="A rendition this high")] = None,
    fit: Annotated[str | None, typer.Option(help="inside (default) or cover (needs --w and --h)")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="jpeg, png, webp or avif")] = None,
    quality: Annotated[int | None, typer.Option(min=1, max=100, help="Encoder quality")] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Download an image, or a rendition of it.

    A rendition: --w, --h, --fit, --format, --quality. Each download counts one access."""
    rendition: Rendition = {}
    if width is not None:
        rendition["w"] = width
    if height is not None:
        rendition["h"] = height
    if fit is not None:
        if fit not in ("inside", "cover"):
            fail("--fit must be inside or cover")
        rendition["fit"] = "cover" if fit == "cover" else "inside"
    if fmt is not None:
        rendition["format"] = fmt
    if quality is not None:
        rendition["quality"] = quality
    by = {"image_id": ref} if IMAGE_ID.fullmatch(ref) else {"name": ref}
    with connect(url, key) as client:
        if output is not None and str(output) == "-":
            client.download(sys.stdout.buffer, **by, **rendition)
            return
        if output is not None:
            done = client.download(output, **by, **rendition)
            _wrote(output, done)
            return
        # The file name comes with the answer: download beside it, then rename.
        partial = f".image-service-{uuid.uuid4().hex}.part"
        try:
            with open(partial, "xb") as out:
                done = client.download(out, **by, **rendition)
            target = _local_name(done, ref)
            if force:
                os.replace(partial, target)
            else:
                try:  # a link, unlike a rename, never replaces what is there
                    os.link(partial, target)
                except FileExistsError:
                    fail(f"{target} exists: give -o FILE, or --force to overwrite it")
        finally:
            Path(partial).unlink(missing_ok=True)
    _wrote(Path(target), done)


def _local_name(done: Download, ref: str) -> str:
    """The name to save a download under in this folder: the uploader's file name, unless it could
    be taken for something else (".bashrc", "../x"); then the image id or name and the type's
    extension."""
    suggested = done.filename or ""
    if suggested and not suggested.startswith(".") and not re.search(r"[\\/]", suggested):
        return suggested
    mime = done.content_type.split(";")[0].strip()
    extension = {"image/jpeg": ".jpg"}.get(mime) or mimetypes.guess_extension(mime) or ".bin"
    base = ref if IMAGE_ID.fullmatch(ref) or validation.NAME_PATTERN.fullmatch(ref) else "image"
    return base + extension


def _wrote(path: Path, done: Download) -> None:
    # markup=False: the path may hold brackets (the uploader's file name, say).
    err.print(f"wrote {path} ({done.size} bytes, {done.content_type})", highlight=False, markup=False)


def rm_command(
    image_ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Image ids", show_default=False)],
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Delete images (several in one bulk request).

    Exits 1 when any could not be deleted."""
    with connect(url, key) as client:
        if len(image_ids) == 1:
            client.delete(image_ids[0])
            print(f"deleted {image_ids[0]}")
            return
        result = client.delete_many(image_ids)
    for image_id in result.deleted:
        print(f"deleted {image_id}")
    for failure in result.failed:
        say_error(f"{failure.image_id}: {failure.reason.replace('_', ' ')}")
    if result.failed:
        raise typer.Exit(FAILED)


def edit_command(
    image_id: Annotated[str, typer.Argument(metavar="ID", help="The image's id")],
    title: Annotated[str | None, typer.Option(help="A new title")] = None,
    description: Annotated[str | None, typer.Option(help="A new description")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="The new tags, replacing all (repeatable)")
    ] = None,
    clear_tags: Annotated[bool, typer.Option("--clear-tags", help="Remove every tag")] = False,
    category: Annotated[str | None, typer.Option(help="A new category; '' clears it")] = None,
    visibility: Annotated[str | None, typer.Option(help="public or private")] = None,
    name: Annotated[str | None, typer.Option(help="A new unique name")] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Change an image's metadata; prints the image as JSON."""
    changes: Changes = {}
    if title is not None:
        changes["title"] = title
    if description is not None:
        changes["description"] = description
    if tag or clear_tags:
        changes["tags"] = [] if clear_tags else list(tag or [])
    if category is not None:
        changes["category"] = category or None
    if visibility is not None:
        changes["visibility"] = _visibility(visibility)
    if name is not None:
        changes["name"] = name
    if not changes:
        fail("nothing to change: give --title, --description, --tag, --category, --visibility or --name")
    with connect(url, key) as client:
        image = client.update(image_id, **changes)
    print(json.dumps(image.model_dump(mode="json")))


def _visibility(value: str) -> Visibility:
    """The domain's rule (an InvalidInput, reported as one line, for anything else)."""
    return "private" if validation.visibility(value) is Visibilities.PRIVATE else "public"
