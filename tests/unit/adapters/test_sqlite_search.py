"""The embedded backend's text index against the one rule for words (domain/text.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from image_service.adapters.sqlite_catalog import SqliteImageCatalog
from image_service.adapters.sqlite_schema import open_database
from image_service.domain.models import Image, ImageQuery
from image_service.domain.text import BOTH_FIELDS, search, words

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def image(n: int, title: str, user_id: str = "alice") -> Image:
    return Image(
        image_id=f"img-{n:04d}", user_id=user_id, name=f"img-{n:04d}.png", filename="a.png",
        content_type="image/png", format="PNG", width=1, height=1, size=1, checksum_sha256="ab" * 32,
        blob_key=f"{user_id}/img-{n:04d}", created_at=T0 + timedelta(seconds=n), updated_at=T0, title=title,
    )  # fmt: skip


def found(catalog: SqliteImageCatalog, text: str, **filters: str) -> list[str]:
    query = ImageQuery(text=(search("q", text, BOTH_FIELDS),), **filters)  # type: ignore[arg-type]
    return [i.image_id for i in catalog.find(query, 100).images]


def test_letters_sqlite_s_tables_do_not_know_stay_inside_their_word(tmp_path: Path) -> None:
    """New Tai Lue vowel signs are letters to Python (domain.text) and separators to the FTS5
    tokenizer's default tables: the index must not split "xᦰ" into "x"."""
    letter = "\u19b0"
    assert words(f"x{letter}") == [f"x{letter}"]
    db = open_database(tmp_path / "c.db")
    try:
        catalog = SqliteImageCatalog(db)
        catalog.add(image(1, "xz"))
        catalog.add(image(2, f"x{letter}"))
        assert found(catalog, f"x{letter}") == ["img-0002"]
        assert found(catalog, "x") == ["img-0002", "img-0001"]
    finally:
        db.close()


def test_a_prefix_of_very_many_words_is_not_taken_for_a_rare_one(tmp_path: Path) -> None:
    """q=s with a small user: the user's index drives (the prefix's words are too many to sum),
    and the answer is right either way."""
    db = open_database(tmp_path / "c.db")
    try:
        catalog = SqliteImageCatalog(db)
        for n in range(600):
            catalog.add(image(n, f"s{n:04d}word", user_id="bob"))
        catalog.add(image(600, "sunset", user_id="alice"))
        statements = catalog.list_statements(
            ImageQuery(text=(search("q", "s", BOTH_FIELDS),), user_id="alice"), 21, None
        )
        assert "images_by_user" in statements[0][0]
        assert found(catalog, "s", user_id="alice") == ["img-0600"]
    finally:
        db.close()
