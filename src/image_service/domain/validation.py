"""Rules for the metadata a client may set; each raises InvalidInput with a readable message."""

from __future__ import annotations

import re
from collections.abc import Iterable

from image_service.domain.errors import InvalidInput
from image_service.domain.models import Visibility

NAME_PATTERN = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9._\-]{0,127}")
USER_PATTERN = re.compile(r"[A-Za-z0-9._@\-]{1,128}")
MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_TAGS = 20
MAX_TAG = 50
MAX_CATEGORY = 50
MAX_FILENAME = 255


def user_id(value: str) -> str:
    if not USER_PATTERN.fullmatch(value):
        raise InvalidInput("user_id must be 1-128 characters of A-Z a-z 0-9 . _ @ -")
    return value


IMAGE_ID_PATTERN = re.compile(r"[A-Za-z0-9_\-]{1,128}")


def image_id(value: str) -> str:
    if not IMAGE_ID_PATTERN.fullmatch(value):
        raise InvalidInput("an image id is 1-128 characters of A-Z a-z 0-9 _ -")
    return value


def name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidInput("name must be 1-128 characters of A-Z a-z 0-9 . _ - and not start with '.'")
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


def filename(value: str | None, fallback: str) -> str:
    """The uploaded file name, kept only for Content-Disposition: strip any path and controls."""
    if not value:
        return fallback
    base = re.split(r"[\\/]", value)[-1]
    base = "".join(c for c in base if ord(c) >= 32 and c != "\x7f" and not _has_surrogate(c)).strip()
    return base[:MAX_FILENAME] or fallback
