"""Idempotency keys: a retried request gets the first answer, and nothing is stored twice.

A client that timed out or crashed cannot tell whether its upload landed. If it sends an
``Idempotency-Key``, retrying is safe. Timeline of one keyed request:

(1) claim (user, key), recording the request's fingerprint and the image ids it will store
    under, chosen now, before anything is stored;
(2) run the request with those ids;
(3) on success save the answer (status and JSON body) in the record, kept for
    ``Limits.idempotency_ttl`` (24 h); on a 4xx delete the claim (nothing was stored), so a
    corrected retry runs afresh; on a 5xx or a bug keep the claim but end its lease at once,
    since the outcome is unknown: a write may have landed before its answer was lost.

A request that finds its key claimed answers:

- 409 if the claim is for a different request (another fingerprint);
- the saved answer, if there is one (a replay: same status, same body, same image ids);
- after waiting for it, if the attempt holding the key is still running: polled for at most
  ``Limits.idempotency_wait`` seconds, then 409 "still in progress";
- by running the request itself if the holder's lease ran out (its process died, or it failed
  with a 5xx). It takes the claim over with the holder's image ids, and an image that already
  exists under one of them was stored by the earlier attempt: it is answered as it is, not
  stored again. So a takeover stores no duplicate either.

The fingerprint is of the parsed request (each file's SHA-256 and the metadata), never of the
raw body: a retried multipart upload has a new boundary, a retried JSON one may be re-encoded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from image_service.domain.access import owner_for
from image_service.domain.errors import Conflict, ImageServiceError, InvalidInput
from image_service.domain.models import Caller, IdempotencyRecord
from image_service.services.context import Context
from image_service.services.uploads import UploadDraft

log = logging.getLogger(__name__)
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII: what a header carries intact
DRAFT_FIELDS = ("user_id", "filename", "name", "title", "description", "tags", "category", "visibility")
FIRST_PAUSE, MAX_PAUSE = 0.05, 0.5  # seconds between polls for a concurrent attempt's answer


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """A request sent with an Idempotency-Key: whose key, which request, how many images."""

    user_id: str
    key: str
    fingerprint: str
    image_count: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """The image ids a keyed request stores under. ``resumed``: an earlier attempt with this key
    stopped without an answer, so some of these images may exist already."""

    image_ids: tuple[str, ...]
    resumed: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    """What a request answered: its status and JSON body; ``replayed`` when it was saved."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


Work = Callable[[Reservation | None], Answer]


def check_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidInput("Idempotency-Key must be 1-255 visible ASCII characters")
    return key


def keyed_upload(
    caller: Caller, key: str | None, operation: str, drafts: Sequence[UploadDraft], **extra: Any
) -> KeyedRequest | None:
    """The keyed form of an upload (None without a key). Keys belong to the user the images
    will belong to: the caller's own, or for admins and ``IMAGE_SERVICE_AUTH=none`` the one
    the request names. ``operation`` and ``extra`` (what else the request says) are part of
    the fingerprint, so one key cannot be replayed for another kind of request."""
    if key is None:
        return None
    check_key(key)
    owner = owner_for(caller, drafts[0].user_id if drafts else None)
    return KeyedRequest(owner, key, fingerprint(operation, drafts, extra), len(drafts))


def fingerprint(operation: str, drafts: Sequence[UploadDraft], extra: dict[str, Any]) -> str:
    described = {
        "operation": operation,
        "extra": extra,
        "files": [
            {"sha256": hashlib.sha256(d.data).hexdigest(), **{f: getattr(d, f) for f in DRAFT_FIELDS}}
            for d in drafts
        ],
    }
    text = json.dumps(described, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_once(ctx: Context, request: KeyedRequest | None, work: Work) -> Answer:
    """``work`` run at most once per key (see the module's timeline); without a key, just run.
    Blocks while it waits for a concurrent attempt: the API drives ``attempts`` instead."""
    steps = attempts(ctx, request, work)
    while not isinstance(step := advance(steps), Answer):
        time.sleep(step)
    return step


Steps = Generator[float, None, Answer]


def attempts(ctx: Context, request: KeyedRequest | None, work: Work) -> Steps:
    """``run_once`` in steps, for a caller that must not block while it waits: each step does
    blocking I/O (a claim, or the work), then yields how many seconds to pause before the next
    one; the generator's return value is the answer."""
    if request is None:
        return work(None)
    claimed = yield from _claim(ctx, request)
    if isinstance(claimed, Answer):
        return claimed
    record, resumed = claimed
    try:
        answer = work(Reservation(record.image_ids, resumed))
    except ImageServiceError as exc:
        if exc.status < 500:
            _quietly(ctx.idempotency.release, record)
        else:
            _quietly(ctx.idempotency.complete, dataclasses.replace(record, lease_until=ctx.now()))
        raise
    except BaseException:
        _quietly(ctx.idempotency.complete, dataclasses.replace(record, lease_until=ctx.now()))
        raise
    # Saving the answer may fail; the upload did not. Then the claim stays until its lease ends
    # and a retry takes over, finds the images under the reserved ids and answers with them.
    _quietly(
        ctx.idempotency.complete,
        dataclasses.replace(record, status=answer.status, body=answer.body, lease_until=ctx.now()),
    )
    return answer


def advance(steps: Steps) -> Answer | float:
    """Run the next step: the answer at the end, else the seconds to pause before the next."""
    try:
        return next(steps)
    except StopIteration as end:
        answer: Answer = end.value
        return answer


def _claim(
    ctx: Context, request: KeyedRequest
) -> Generator[float, None, Answer | tuple[IdempotencyRecord, bool]]:
    """Claim the key (the record and whether it was taken over), or the answer to replay."""
    store, limits = ctx.idempotency, ctx.limits
    lease = timedelta(seconds=limits.idempotency_lease)
    now = ctx.now()
    mine = IdempotencyRecord(
        user_id=request.user_id,
        key=request.key,
        fingerprint=request.fingerprint,
        token=secrets.token_urlsafe(16),
        image_ids=tuple(ctx.new_id() for _ in range(request.image_count)),
        lease_until=now + lease,
        expires_at=now + timedelta(seconds=limits.idempotency_ttl),
    )
    deadline = time.monotonic() + limits.idempotency_wait
    pause = FIRST_PAUSE
    while True:
        held = store.claim(mine, ctx.now())
        if held is None:
            return mine, False
        if held.fingerprint != mine.fingerprint:
            raise Conflict("this Idempotency-Key was already used for a different request")
        if held.status is not None and held.body is not None:
            return Answer(held.status, held.body, replayed=True)
        now = ctx.now()
        if held.lease_until <= now:
            # The holder stopped without an answer: carry on under its image ids (and its expiry:
            # a key lives 24 h from its first use however often it is taken over).
            heir = dataclasses.replace(
                mine, image_ids=held.image_ids, lease_until=now + lease, expires_at=held.expires_at
            )
            if store.take_over(held, heir):
                return heir, True
            continue  # another retry took it over, or the holder finished: look again
        left = deadline - time.monotonic()
        if left <= 0:
            raise Conflict("a request with this Idempotency-Key is still in progress")
        yield min(pause, left)
        pause = min(pause * 2, MAX_PAUSE)


def _quietly(write: Callable[[IdempotencyRecord], None], record: IdempotencyRecord) -> None:
    """Bookkeeping after the request ran must not change its answer: the lease covers a miss."""
    try:
        write(record)
    except ImageServiceError:
        log.exception("could not update the record of Idempotency-Key %r of %s", record.key, record.user_id)
