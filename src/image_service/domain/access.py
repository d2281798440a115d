"""Who may do what: the access rules every service applies, in one place.

Seeing follows the list rule (``ImageQuery.for_caller``) applied to one image, so a list never
shows an image that view or content would hide, nor the other way round. Acting for a user
(uploading as them, changing or deleting their images) is for that user, an admin, or the
trusted ``IMAGE_SERVICE_AUTH=none`` caller.
"""

from __future__ import annotations

from functools import lru_cache

from image_service.domain import validation
from image_service.domain.errors import Forbidden, InvalidInput, Unauthenticated
from image_service.domain.models import Caller, Image, ImageQuery

# The owner of an upload that names none, with IMAGE_SERVICE_AUTH=none (API.md, Identity).
ANONYMOUS_OWNER = "anonymous"


def can_see(caller: Caller, image: Image) -> bool:
    query = _sees(caller)
    return query is not None and query.matches(image)


@lru_cache(maxsize=1024)
def _sees(caller: Caller) -> ImageQuery | None:
    """What ``caller`` may see, made once per caller rather than on every GET of the content
    routes, where building it was 8 % of a served answer (docs/PERFORMANCE.md, "Serving")."""
    return ImageQuery().for_caller(caller)


def may_act_for(caller: Caller, user_id: str) -> bool:
    """Whether the caller may upload as ``user_id`` or change the images ``user_id`` owns."""
    return caller.is_admin or caller.trusted or user_id == caller.user_id


def can_change(caller: Caller, image: Image) -> bool:
    return may_act_for(caller, image.user_id)


def require_identity(caller: Caller) -> None:
    if caller.is_anonymous and not caller.trusted:
        raise Unauthenticated("an API key is required for this request")


def check_acting_for(caller: Caller, user_id: str | None) -> None:
    """Refuse a request that names another user than the caller's own (unless it may act for them)."""
    if user_id is not None and not may_act_for(caller, user_id):
        raise Forbidden("user_id does not match your API key")


def owner_for(caller: Caller, requested: str | None) -> str:
    """The user an upload belongs to: the caller's own, or another only for admins/trusted."""
    if caller.is_anonymous and not caller.trusted:
        raise Unauthenticated("an API key is required to upload")
    if requested is None:
        if caller.user_id is not None:
            return caller.user_id
        if caller.trusted:  # older clients know no users: their images belong to "anonymous"
            return ANONYMOUS_OWNER
        raise InvalidInput("user_id is required")
    validation.user_id(requested)
    check_acting_for(caller, requested)
    return requested
