"""Rules for the metadata a client may set; each raises InvalidInput with a readable message."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

from image_service.domain.errors import InvalidInput
from image_service.domain.models import Visibility, parse_time

NAME_PATTERN = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9._\-]{0,127}")
USER_PATTERN = re.compile(r"[A-Za-z0-9._@\-]{1,128}")
MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_TAGS = 20
MAX_TAG = 50
MAX_CATEGORY = 50
MAX_FILENAME = 255


# ISO 8601's extended form, as the API documents it: a date, optionally a time to the minute,
# second or fraction, optionally an offset. Python's fromisoformat alone is laxer: it reads a
# 40-digit number as 1111-11-11T11:11:11.111111.
ISO_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)


def time(field: str, value: str) -> datetime:
    """A client's ISO 8601 time (UTC when it names no offset)."""
    if ISO_TIME.fullmatch(value):
        try:
            return parse_time(value)
        except (ValueError, OverflowError):  # Overflow: year 1 at +01:00 is before UTC's year 1
            pass
    raise InvalidInput(f"{field} must be an ISO 8601 time, such as 2026-01-01T12:00:00Z")


def user_id(value: str) -> str:
    if not USER_PATTERN.fullmatch(value):
        raise InvalidInput("user_id must be 1-128 characters of A-Z a-z 0-9 . _ @ -")
    return value


IMAGE_ID_PATTERN = re.compile(r"[A-Za-z0-9_\-]{1,128}")


def image_id(value: str) -> str:
    if not IMAGE_ID_PATTERN.fullmatch(value):
        raise InvalidInput("an image id is 1-128 characters of A-Z a-z 0-9 _ -")
    return value


def name(value: str, reserved: frozenset[str] = frozenset()) -> str:
    """A unique name, served at ``/<name>``: one a route of the service uses could never be."""
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidInput("name must be 1-128 characters of A-Z a-z 0-9 . _ - and not start with '.'")
    if value in reserved:
        raise InvalidInput(f"name {value!r} is reserved: the service itself answers /{value}")
    return value


def text(field: str, value: str, limit: int) -> str:
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"{field} must be at most {limit} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise InvalidInput(f"{field} must not contain control characters")
    if _has_surrogate(value):
        raise InvalidInput(f"{field} must be valid Unicode text")
    return value


def _has_surrogate(value: str) -> bool:
    """JSON may escape lone surrogates (``"\\ud800"``); no UTF-8 store or header can hold them."""
    return any("\ud800" <= c <= "\udfff" for c in value)


def title(value: str) -> str:
    return text("title", value, MAX_TITLE)


def description(value: str) -> str:
    return text("description", value, MAX_DESCRIPTION)


def category(value: str | None) -> str | None:
    if value is None:
        return None
    value = text("category", value, MAX_CATEGORY).lower()
    return value or None


def tags(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Lower-case, strip, de-duplicate (keeping first order); accepts a list or "a, b" string."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    seen: dict[str, None] = {}
    for item in items:
        if not isinstance(item, str):
            raise InvalidInput("tags must be strings")
        tag = item.strip().lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG:
            raise InvalidInput(f"a tag must be at most {MAX_TAG} characters")
        if any(ord(c) < 32 for c in tag):
            raise InvalidInput("tags must not contain control characters")
        if _has_surrogate(tag):
            raise InvalidInput("tags must be valid Unicode text")
        seen.setdefault(tag, None)
    if len(seen) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags are allowed")
    return tuple(seen)


def visibility(value: str | Visibility | None) -> Visibility:
    if value is None:
        return Visibility.PUBLIC
    try:
        return Visibility(str(value).lower())
    except ValueError:
        raise InvalidInput("visibility must be 'public' or 'private'") from None


# Controls (C0 and C1), format characters (bidirectional overrides such as U+202E, which make
# "gpj.exe" look like "exe.jpg", zero-width spaces, U+200E marks, the BOM), line and paragraph
# separators, and lone surrogates: nothing a file name shown to a person should hold.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def visible(value: str) -> str:
    """``value`` without invisible and control characters."""
    return "".join(c for c in value if unicodedata.category(c) not in INVISIBLE_CATEGORIES)


def filename(value: str | None, fallback: str) -> str:
    """The uploaded file name, kept only for Content-Disposition: strip any path and every
    invisible or control character."""
    if not value:
        return fallback
    base = visible(re.split(r"[\\/]", value)[-1]).strip()
    return base[:MAX_FILENAME] or fallback
