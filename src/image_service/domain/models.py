"""The service's vocabulary: an image, who is asking, a list query and a page of results."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from image_service.domain.text import TextSearch


class Visibility(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


@dataclass(frozen=True, slots=True)
class Image:
    image_id: str
    user_id: str
    name: str
    filename: str
    content_type: str
    format: str
    width: int
    height: int
    size: int
    checksum_sha256: str
    blob_key: str
    created_at: datetime
    updated_at: datetime
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    category: str | None = None
    visibility: Visibility = Visibility.PUBLIC
    orientation: int | None = None
    access_count: int = 0
    last_accessed_at: datetime | None = None

    @property
    def etag(self) -> str:
        return f'"{self.checksum_sha256[:32]}"'


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking. ``user_id`` None means anonymous.

    ``trusted`` is the ``IMAGE_SERVICE_AUTH=none`` caller: it may change any image (the network
    is the security boundary), but reads still follow visibility for the user it declares.
    """

    user_id: str | None = None
    is_admin: bool = False
    trusted: bool = False

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None and not self.is_admin


ANONYMOUS = Caller()
ADMIN = Caller(user_id=None, is_admin=True)


@dataclass(frozen=True, slots=True)
class ImageQuery:
    """A list query as the catalog sees it: the client's filters with the caller's rights applied
    (``for_caller``, the one "who sees what" rule).

    ``visible_to`` set means "only images that are public or owned by this user". Catalogs plan
    the ``canonical`` form, in which it is set only when neither ``user_id`` nor ``visibility``
    already decides visibility, so it always splits into two disjoint ``arms``: the public images
    and this user's private ones.
    """

    user_id: str | None = None
    tags: tuple[str, ...] = ()
    category: str | None = None
    visibility: Visibility | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: tuple[TextSearch, ...] = ()  # q, title=, description=: every one must match
    visible_to: str | None = None

    def for_caller(self, caller: Caller) -> ImageQuery | None:
        """These filters (given with ``visible_to`` unset) narrowed to what ``caller`` may see, in
        canonical form; None if nothing. Anonymous callers see public images, users public ones
        and their own, admins everything. ``trusted`` changes nothing here: it is about writes."""
        if caller.is_admin:
            return self
        if caller.user_id is None:  # anonymous: public images only
            if self.visibility is Visibility.PRIVATE:
                return None
            return replace(self, visibility=Visibility.PUBLIC)
        return replace(self, visible_to=caller.user_id).canonical()

    def canonical(self) -> ImageQuery | None:
        """The same query with ``visible_to`` folded into the filters that decide it; None when
        nothing can match (someone else's private images). What every catalog plans."""
        if self.visible_to is None:
            return self
        if self.visibility is Visibility.PUBLIC or self.user_id == self.visible_to:
            return replace(self, visible_to=None)
        if self.visibility is Visibility.PRIVATE:
            if self.user_id not in (None, self.visible_to):
                return None
            return replace(self, user_id=self.visible_to, visible_to=None)
        if self.user_id is not None:  # another user's images: only the public ones
            return replace(self, visibility=Visibility.PUBLIC, visible_to=None)
        return self

    def arms(self) -> tuple[ImageQuery, ...]:
        """The canonical query as disjoint queries without ``visible_to`` whose union it is: itself,
        or for "public or mine" the public images and the user's private ones; none when nothing
        can match."""
        query = self.canonical()
        if query is None:
            return ()
        if query.visible_to is None:
            return (query,)
        return (
            replace(query, visible_to=None, visibility=Visibility.PUBLIC),
            replace(query, visible_to=None, user_id=query.visible_to, visibility=Visibility.PRIVATE),
        )

    def matches(self, image: Image) -> bool:
        """The reference semantics of a query: what every catalog must return."""
        return (
            (self.user_id is None or image.user_id == self.user_id)
            and all(tag in image.tags for tag in self.tags)
            and (self.category is None or image.category == self.category)
            and (self.visibility is None or image.visibility == self.visibility)
            and (self.created_after is None or image.created_at >= self.created_after)
            and (self.created_before is None or image.created_at < self.created_before)
            and all(t.matches(image.title, image.description) for t in self.text)
            and (
                self.visible_to is None
                or image.visibility is Visibility.PUBLIC
                or image.user_id == self.visible_to
            )
        )


@dataclass(frozen=True, slots=True, order=True)
class Keyset:
    """Position in the newest-first order: the last (created_at, image_id) a page returned.

    ``resume`` is the catalog's own note on where it stopped (opaque to everyone else, carried
    in the signed cursor): DynamoDB keeps there the items it read past the page, so the next
    page does not read them again. A catalog must answer correctly without it."""

    created_at: datetime
    image_id: str
    resume: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Page:
    images: list[Image] = field(default_factory=list)
    next: Keyset | None = None

    @property
    def has_more(self) -> bool:
        return self.next is not None


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    user_id: str
    key_hash: str
    is_admin: bool
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """A direct upload that was started but not completed: where the bytes go, what was
    declared, and the metadata to apply on completion. Expired ones are swept."""

    image_id: str
    user_id: str
    blob_key: str
    content_type: str
    size: int
    metadata: dict[str, Any]
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """How a client sends bytes directly to storage: a presigned S3 POST (``fields``) or a
    signed PUT (``headers``)."""

    url: str
    method: str
    fields: dict[str, str] | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """One object as storage lists it, for fsck: an opaque ``ref`` (the S3 key, or the file's
    path under the blob root), when it was last written and its size."""

    ref: str
    modified: datetime
    size: int


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """One ``Idempotency-Key`` of one user: the request it was first used for (``fingerprint``),
    the image ids that request stores under, and, once it succeeded, its answer.

    ``token`` names the attempt that holds the key; ``lease_until`` is how long that attempt may
    run before a retry may take over (its process may have crashed). The record counts as absent
    from ``expires_at`` on.
    """

    user_id: str
    key: str
    fingerprint: str
    token: str
    image_ids: tuple[str, ...]
    lease_until: datetime
    expires_at: datetime
    status: int | None = None  # the answer, once the request succeeded
    body: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.status is not None


def utcnow() -> datetime:
    """Now, in UTC, at millisecond precision (what the API shows and the catalog sorts on)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
