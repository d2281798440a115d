"""The Lambda app: the FastAPI app wrapped by Mangum for API Gateway (REST API v1 or HTTP API v2).

Responses larger than Lambda's limit are not sent inline: the content routes answer them with a
302 to a presigned S3 URL (``IMAGE_SERVICE_MAX_INLINE_BYTES``, default ``LAMBDA_MAX_INLINE``).
"""

from __future__ import annotations

import warnings

from mangum import Mangum

from image_service.api.app import create_app
from image_service.bootstrap import bootstrap
from image_service.settings import Settings

# Lambda caps a response at 6 MB, and binary bodies travel base64-encoded (4/3 larger), so about
# 4.5 MB of raw bytes fit; 4 MiB leaves room for the headers.
LAMBDA_MAX_INLINE = 4 * 1024 * 1024


def make_handler(settings: Settings | None = None) -> Mangum:
    settings = settings or Settings()
    if settings.max_inline_bytes is None:
        settings = settings.model_copy(update={"max_inline_bytes": LAMBDA_MAX_INLINE})
    app = create_app(bootstrap(settings), auth=settings.auth, backend=settings.backend)
    with warnings.catch_warnings():
        # Mangum runs every request on the thread's current event loop and makes one here with
        # asyncio.get_event_loop(), which on Python 3.12 and 3.13 (Lambda's runtimes) warns
        # "There is no current event loop" while creating it: an import error under `-W error`.
        warnings.simplefilter("ignore", DeprecationWarning)
        # A custom domain's base path mapping (e.g. /v1) is stripped before routing.
        return Mangum(app, lifespan="off", api_gateway_base_path=settings.base_path)
