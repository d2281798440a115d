"""List images: apply the caller's rights to the filters, page through the catalog by keyset,
and hand out opaque cursors that are signed and bound to the filters they were made for."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from image_service.domain import validation
from image_service.domain.errors import InvalidInput
from image_service.domain.models import Caller, ImageQuery, Keyset, Page, Visibility, format_time, parse_time
from image_service.domain.signing import Signer
from image_service.domain.text import BOTH_FIELDS, TextField, TextSearch, search
from image_service.services.context import Context

CURSOR_PURPOSE = "list-cursor"
MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class ListFilters:
    """The filters as the client gave them (normalised); a cursor is bound to exactly these."""

    user_id: str | None = None
    tags: tuple[str, ...] = ()
    category: str | None = None
    visibility: Visibility | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: tuple[TextSearch, ...] = ()

    def fingerprint(self) -> str:
        return json.dumps(
            [
                self.user_id,
                sorted(self.tags),
                self.category,
                self.visibility.value if self.visibility else None,
                format_time(self.created_after) if self.created_after else None,
                format_time(self.created_before) if self.created_before else None,
                *([[t.key() for t in self.text]] if self.text else []),
            ],
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class ListResult:
    page: Page
    next_cursor: str | None


def make_filters(
    *,
    user_id: str | None = None,
    tags: list[str] | None = None,
    category: str | None = None,
    visibility: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    q: str | None = None,
    title: str | None = None,
    description: str | None = None,
) -> ListFilters:
    if created_after and created_before and created_after >= created_before:
        raise InvalidInput("created_after must be before created_before")
    return ListFilters(
        user_id=validation.user_id(user_id) if user_id is not None else None,
        tags=validation.tags(tags),
        category=validation.category(category),
        visibility=validation.visibility(visibility) if visibility is not None else None,
        created_after=created_after,
        created_before=created_before,
        text=tuple(
            search(name, value, fields)
            for name, value, fields in (
                ("q", q, BOTH_FIELDS),
                ("title", title, (TextField.TITLE,)),
                ("description", description, (TextField.DESCRIPTION,)),
            )
            if value is not None
        ),
    )


def query_for(caller: Caller, filters: ListFilters) -> ImageQuery | None:
    """The catalog query that shows the caller exactly what they may see (``ImageQuery.for_caller``);
    None if nothing."""
    query = ImageQuery(
        user_id=filters.user_id,
        tags=filters.tags,
        category=filters.category,
        visibility=filters.visibility,
        created_after=filters.created_after,
        created_before=filters.created_before,
        text=filters.text,
    )
    return query.for_caller(caller)


def list_images(
    ctx: Context, caller: Caller, filters: ListFilters, *, limit: int = 20, cursor: str | None = None
) -> ListResult:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    after = decode_cursor(ctx.signer, filters, cursor) if cursor else None
    query = query_for(caller, filters)
    if query is None:
        return ListResult(Page(), None)
    ctx.settle_accesses()  # the page's counts include this process's pending accesses
    page = ctx.catalog.find(query, limit, after)
    return ListResult(page, encode_cursor(ctx.signer, filters, page.next) if page.next else None)


def encode_cursor(signer: Signer, filters: ListFilters, keyset: Keyset) -> str:
    position = [format_time(keyset.created_at), keyset.image_id, *([keyset.resume] if keyset.resume else [])]
    body = json.dumps(position, separators=(",", ":"))
    signature = signer.sign(CURSOR_PURPOSE, f"{filters.fingerprint()}\n{body}")
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=") + "." + signature


def decode_cursor(signer: Signer, filters: ListFilters, token: str) -> Keyset:
    invalid = InvalidInput("cursor is invalid, tampered with, or belongs to other filters")
    encoded, _, signature = token.partition(".")
    try:
        body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    # Base64 ignores the spare bits of a last character, so several spellings decode to one body;
    # only the one we issued is accepted, or a changed cursor would still pass.
    if base64.urlsafe_b64encode(body.encode()).decode().rstrip("=") != encoded:
        raise invalid
    if not signature or not signer.verify(CURSOR_PURPOSE, f"{filters.fingerprint()}\n{body}", signature):
        raise invalid
    try:
        created_at, image_id, *resume = json.loads(body)
        if len(resume) > 1 or not all(isinstance(r, str) for r in resume):
            raise ValueError("resume")
        return Keyset(parse_time(created_at), str(image_id), resume[0] if resume else "")
    except (ValueError, TypeError):
        raise invalid from None
