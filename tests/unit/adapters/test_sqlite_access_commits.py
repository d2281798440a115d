"""Grouped access counts on a real SQLite file: a batch of any size is one transaction, one commit
(counted with sqlite3's statement trace), where one write per GET was a commit each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from image_service.adapters.sqlite_catalog import SqliteImageCatalog
from image_service.adapters.sqlite_db import SqliteDatabase
from image_service.adapters.sqlite_schema import open_database
from image_service.domain.models import Image
from image_service.services.access_counts import GroupedAccessCounts

T0 = datetime(2026, 1, 1, tzinfo=UTC)
IDS = ("a", "b", "c")


def image(image_id: str) -> Image:
    return Image(
        image_id=image_id, user_id="alice", name=f"{image_id}.png", filename="a.png",
        content_type="image/png", format="PNG", width=3, height=2, size=10, checksum_sha256="ab" * 32,
        blob_key=f"alice/{image_id}", created_at=T0, updated_at=T0,
    )  # fmt: skip


def traced(tmp_path: Path) -> tuple[SqliteDatabase, SqliteImageCatalog, list[str]]:
    """A catalog used from this thread only, so the pool lends it one connection, whose every
    statement is recorded."""
    db = open_database(tmp_path / "catalog.sqlite3")
    catalog = SqliteImageCatalog(db)
    for image_id in IDS:
        catalog.add(image(image_id))
    statements: list[str] = []
    with db.read() as conn:
        conn.set_trace_callback(statements.append)
    return db, catalog, statements


def test_a_thousand_grouped_accesses_are_one_commit(tmp_path: Path) -> None:
    db, catalog, statements = traced(tmp_path)
    counts = GroupedAccessCounts(catalog, interval=3600)  # only settle() below writes
    for n in range(1000):
        counts.add(IDS[n % 3], T0 + timedelta(milliseconds=n))
    counts.settle()
    assert (statements.count("BEGIN IMMEDIATE"), statements.count("COMMIT")) == (1, 1)
    assert len([s for s in statements if s.startswith("UPDATE images")]) == 3  # one per image
    assert [catalog.get(i).access_count for i in IDS] == [334, 333, 333]
    assert catalog.get("a").last_accessed_at == T0 + timedelta(milliseconds=999)
    counts.close()
    db.close()


def test_one_write_per_access_is_a_commit_each(tmp_path: Path) -> None:
    """The way Lambda counts (and every server did before): the figure the batch is measured by."""
    db, catalog, statements = traced(tmp_path)
    for n in range(100):
        catalog.record_access(IDS[n % 3], T0)
    assert statements.count("COMMIT") == 100
    db.close()
