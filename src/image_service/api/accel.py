"""Behind nginx: the content routes hand the sending of the bytes to nginx (``X-Accel-Redirect``).

With ``IMAGE_SERVICE_ACCEL_REDIRECT=/_accel/`` (the prefix of an ``internal`` nginx location whose
``alias`` is the data dir's ``blobs/``), a GET that would answer the whole object, or one range of
it, answers with the headers alone and ``X-Accel-Redirect: /_accel/<the object's path under
blobs/>``. nginx then sends the file from disk itself (sendfile), and the service does only what
it must: the visibility check, signed URLs, the access count, the log line. The configuration to
run it with is docs/nginx/image-service.conf (docs/DEPLOY.md, "Behind nginx").

What nginx does with such an answer, and why each rule stays ours:

- It keeps only ``Content-Type``, ``Content-Disposition``, ``Cache-Control``, ``Expires``,
  ``Accept-Ranges`` and ``Set-Cookie`` of the upstream's headers and makes its own ``ETag`` and
  ``Last-Modified`` from the file. The internal location turns those off and sets ours back from
  ``$upstream_http_*`` (``ETag``, ``Last-Modified``, ``Vary``, ``X-Request-ID``), with
  ``X-Content-Type-Options``.
- 304, 416 and HEAD are decided here and answered without ``X-Accel-Redirect`` (nginx passes such
  an answer through as it is), so If-None-Match and If-Modified-Since compare with our validators.
- nginx applies the client's ``Range`` to the file. It does so as we would for one satisfiable
  range (``max_ranges 1`` makes it ignore several, as we do), so such a GET is handed over; a
  ``Range`` we ignore (another unit, garbage), which nginx might answer 416, is not; nor is one
  with a number of more than 18 digits, which nginx's parser refuses (416) where we serve it.
- ``If-Range``, ``If-Match`` and ``If-Unmodified-Since`` would be judged by nginx against its own
  validators (the file's mtime and size), not ours: such a request gets the bytes from the service.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from urllib.parse import quote

from starlette.requests import Request

HEADER = "X-Accel-Redirect"
# Preconditions nginx would evaluate against its own validators, which are not the contract's.
NGINX_JUDGED = ("if-range", "if-match", "if-unmodified-since")
# nginx's range parser answers 416 to a number past 18 digits (its off_t overflow guard).
NGINX_TOO_LONG = re.compile(r"\d{19}")


class AccelRedirect:
    """``prefix``: the internal location (``/_accel/``); ``locate``: a blob key to its path under
    the location's root (the filesystem store's ``ref``)."""

    # Locations are remembered: a store's path of a key never changes, and making one is a fifth
    # of a handed-over GET's own work (pathlib), for the same few keys over and over.
    CACHED_LOCATIONS = 65_536

    def __init__(self, prefix: str, locate: Callable[[str], str]) -> None:
        self.prefix = prefix
        self.location: Callable[[str], str] = functools.lru_cache(maxsize=self.CACHED_LOCATIONS)(
            lambda key: prefix + quote(locate(key))
        )
        self.encoded = functools.lru_cache(maxsize=self.CACHED_LOCATIONS)(self._encoded)

    def headers(self, headers: dict[str, str], key: str, *, ranged: bool) -> dict[str, str]:
        """The answer's headers for nginx: ours and the object's location. nginx adds its own
        ``Accept-Ranges`` to a whole file's 200 (ours too would make two) and none to a 206."""
        handed = {**headers, HEADER: self.location(key)}
        if not ranged:
            handed.pop("Accept-Ranges", None)
        return handed

    def _encoded(
        self, headers: tuple[tuple[bytes, bytes], ...], key: str, ranged: bool
    ) -> tuple[tuple[bytes, bytes], ...]:
        """What ``headers`` makes, from headers encoded already (lower-case names, as Starlette
        sends them); remembered as ``encoded(headers, key, ranged)``, as the locations are."""
        kept = headers if ranged else tuple(h for h in headers if h[0] != b"accept-ranges")
        return (*kept, (HEADER.lower().encode(), self.location(key).encode("latin-1")))


def offload(request: Request, conditions: Mapping[str, str], *, range_applies: bool) -> AccelRedirect | None:
    """The hand-over to use for this GET's bytes, or None to send them from here.
    ``conditions``: the request's headers that decide a content answer (``Range`` and those in
    NGINX_JUDGED among them, lower-case names); ``range_applies``: its ``Range`` (if any) is one
    satisfiable range we would serve."""
    accel: AccelRedirect | None = getattr(request.app.state, "accel", None)
    if accel is None:
        return None
    if "range" in conditions and (not range_applies or NGINX_TOO_LONG.search(conditions["range"])):
        return None
    if any(name in conditions for name in NGINX_JUDGED):
        return None
    return accel
