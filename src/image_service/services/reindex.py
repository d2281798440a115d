"""Backfill of the AWS backend's text index: every stored image gets the word items text search
reads (images stored before search existed, or whose items a crash left behind).

Resumable: images come a page at a time with a token that resumes after the page, and the token
is handed to ``progress`` only once every image of the page is done, so a run stopped anywhere
restarts from the last token it reported and redoes at most one page. Idempotent: an image whose
items are right is read, not written. A run that gets to the end then recounts every user's
images (the counts the search planner reads), over all images whatever the token. The embedded
backend needs none of this: its full-text index is written in the same transaction as the image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

WORKERS = 8  # images of a page reindexed at once


@runtime_checkable
class TextBackfill(Protocol):
    def image_count(self) -> int: ...

    def image_ids(self, after: str | None = None) -> Iterator[tuple[list[str], str]]: ...

    def reindex(self, image_id: str) -> int: ...

    def recount_users(self) -> int: ...


@dataclass
class ReindexReport:
    images: int = 0  # images looked at
    changed: int = 0  # of which had items written or deleted
    items: int = 0  # items written or deleted
    token: str | None = None  # where a new run would resume (None: nothing done yet)
    users: int = 0  # users whose image counts were rewritten at the end


def reindex(
    backfill: TextBackfill,
    after: str | None = None,
    progress: Callable[[ReindexReport, int], None] | None = None,
) -> ReindexReport:
    """Bring every image after ``after`` (a token from an earlier run; None: from the start) in
    step; ``progress`` is told the report so far and the images of the page just done."""
    report = ReindexReport(token=after)
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="reindex") as pool:
        for image_ids, token in backfill.image_ids(after):
            written = list(pool.map(backfill.reindex, image_ids))
            report.images += len(image_ids)
            report.changed += sum(1 for n in written if n)
            report.items += sum(written)
            report.token = token
            if progress is not None:
                progress(report, len(image_ids))
    # Over every image, not only those after ``after``: a resumed run recounts as a full one.
    report.users = backfill.recount_users()
    return report
