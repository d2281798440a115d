"""`image-service reindex`: give every image of the AWS backend its text search items."""

from __future__ import annotations

from typing import Annotated

import typer

from image_service.bootstrap import bootstrap
from image_service.cli.errors import err
from image_service.cli.options import Backend, DataDir, settings_for


def reindex_command(
    after: Annotated[
        str | None, typer.Option("--after", help="Resume after this token (printed by an earlier run)")
    ] = None,
    data_dir: DataDir = None,
    backend: Backend = None,
) -> None:
    """Write the word items text search reads for every image stored without them (images from
    before search, or left behind by a crash), then recount every user's images. Resumable with
    --after; safe to run again."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from image_service.adapters.dynamodb_backfill import DynamoDBTextBackfill
    from image_service.adapters.dynamodb_catalog import DynamoDBImageCatalog
    from image_service.services.reindex import ReindexReport, reindex

    ctx = bootstrap(settings_for(data_dir, backend=backend))
    if not isinstance(ctx.catalog, DynamoDBImageCatalog):
        print("nothing to do: the local backend indexes text in the same transaction as the image")
        return
    backfill = DynamoDBTextBackfill(ctx.catalog)
    report = ReindexReport(token=after)
    columns = (TextColumn("reindexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("images", total=None if after else backfill.image_count())

        def advance(done: ReindexReport, images: int) -> None:
            nonlocal report
            report = done
            bar.advance(task, images)

        try:
            report = reindex(backfill, after, advance)
        except (Exception, KeyboardInterrupt):
            if report.token:
                resume = f"image-service reindex --after {report.token}"
                err.print(f"stopped; resume with: {resume}", soft_wrap=True, highlight=False)
            raise
    print(
        f"reindexed {report.images} images: {report.changed} needed it "
        f"({report.items} items written or deleted); recounted the images of {report.users} users"
    )
