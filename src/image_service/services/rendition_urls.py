"""URLs of renditions: the content route with the rendition's parameters, signed by the service.

On both backends a signed rendition URL is the service's own: on the AWS backend a rendition
may not exist in S3 yet, so an S3 presigned URL could not make it. The signature is an HMAC
(``ctx.signer``, its own purpose, so an original's signed URL never passes for a rendition's or
the reverse) over the image id, ``expires``, ``download`` and the request's canonical
parameters (``RenditionRequest.query``): changing any of them, or waiting past ``expires``,
breaks it.
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

from image_service.domain.models import Image, Visibility
from image_service.services.context import Context
from image_service.services.renditions import THUMBNAIL, RenditionRequest

PURPOSE = "rendition-url"
# Private thumbnails in list answers expire on a grid of this many seconds past their default
# expiry: listing again within a window gives the same URLs, which browsers then cache.
THUMBNAIL_GRID = 600


def signed_url(
    ctx: Context, image: Image, wanted: RenditionRequest, *, expires_in: int, download: bool = False
) -> str:
    expires = math.ceil(ctx.now().timestamp()) + expires_in
    return _signed(ctx, image, wanted, expires=expires, download=download)


def verify(
    ctx: Context, image_id: str, wanted: RenditionRequest, *, expires: int, download: bool, signature: str
) -> bool:
    if expires < ctx.now().timestamp():
        return False
    return ctx.signer.verify(PURPOSE, _message(image_id, wanted, expires, download), signature)


def thumbnail_url(ctx: Context, image: Image) -> str:
    """The 256-pixel rendition, for an ``<img>`` as it is: plain for a public image, signed
    (valid at least the default expiry) for a private one."""
    if image.visibility is Visibility.PUBLIC:
        return ctx.urls.service_url(f"/images/{image.image_id}/content?{urlencode(THUMBNAIL.query())}")
    earliest = math.ceil(ctx.now().timestamp()) + ctx.limits.default_url_expiry
    expires = -(-earliest // THUMBNAIL_GRID) * THUMBNAIL_GRID
    return _signed(ctx, image, THUMBNAIL, expires=expires, download=False)


def _signed(ctx: Context, image: Image, wanted: RenditionRequest, *, expires: int, download: bool) -> str:
    signature = ctx.signer.sign(PURPOSE, _message(image.image_id, wanted, expires, download))
    query = {
        **wanted.query(),
        "expires": str(expires),
        "download": str(download).lower(),
        "signature": signature,
    }
    return ctx.urls.service_url(f"/images/{image.image_id}/content?{urlencode(query)}")


def _message(image_id: str, wanted: RenditionRequest, expires: int, download: bool) -> str:
    return f"{image_id}\n{expires}\n{int(download)}\n{urlencode(wanted.query())}"
