"""`image-service fsck`: what the catalog and the blob store disagree on, and its repair."""

from __future__ import annotations

from typing import Annotated

import typer

from image_service.bootstrap import bootstrap
from image_service.cli.options import Backend, DataDir, settings_for


def fsck_command(
    repair: Annotated[
        bool, typer.Option("--repair", help="Delete what is found, not just report it")
    ] = False,
    grace: Annotated[
        int, typer.Option(min=0, help="Seconds an unreferenced object is spared (uploads in flight)")
    ] = 3600,
    data_dir: DataDir = None,
    backend: Backend = None,
) -> None:
    """Find objects without metadata, renditions without their image, metadata without objects
    and stale pending uploads (on either backend); with --repair, remove them. Exits 1 if damage
    was found and left in place."""
    from datetime import timedelta

    from image_service.services.fsck import FsckStores, fsck

    ctx = bootstrap(settings_for(data_dir, backend=backend))
    report = fsck(ctx, FsckStores.of(ctx), repair=repair, grace=timedelta(seconds=grace))
    verb = "removed" if repair else "found"
    print(f"checked {report.images} images and {report.objects} objects")
    print(f"renditions: {report.renditions}")
    for label, items in (
        ("objects without metadata", report.orphan_objects),
        ("renditions without their image", report.orphan_renditions),
        ("images without their object", report.missing_objects),
        ("stale pending uploads", report.stale_pending),
    ):
        print(f"{verb} {len(items)} {label}")
        for item in items:
            print(f"  {item}")
    if report.young_unreferenced:
        print(
            f"spared {report.young_unreferenced} objects without metadata younger than the grace period "
            f"({grace} s): they may be uploads in flight. With no server running (after a crash), "
            "check them with --grace 0"
        )
    if not report.clean and not repair:
        raise typer.Exit(1)
