"""The Lambda app: the FastAPI app wrapped by Mangum for API Gateway (REST API v1 or HTTP API v2).

Responses larger than Lambda's limit are not sent inline: the content routes answer them with a
302 to a presigned S3 URL (``IMAGE_SERVICE_MAX_INLINE_BYTES``, default
``bootstrap.LAMBDA_MAX_INLINE``).
"""

from __future__ import annotations

import warnings

from mangum import Mangum

from image_service import logs
from image_service.bootstrap import build_app
from image_service.settings import Settings


def make_handler(settings: Settings | None = None) -> Mangum:
    settings = settings or Settings()
    # Behind an HTTP API with CORS configured (infra/template.yaml) the gateway answers for CORS
    # and IMAGE_SERVICE_CORS_ORIGINS stays unset; behind one without, the same setting works here.
    app = build_app(settings, runtime="lambda")
    with warnings.catch_warnings():
        # Mangum runs every request on the thread's current event loop and makes one here with
        # asyncio.get_event_loop(), which on Python 3.12 and 3.13 (Lambda's runtimes) warns
        # "There is no current event loop" while creating it: an import error under `-W error`.
        warnings.simplefilter("ignore", DeprecationWarning)
        # A custom domain's base path mapping (e.g. /v1) is stripped before routing.
        return Mangum(app, lifespan="off", api_gateway_base_path=settings.base_path)


def handler_from_env() -> Mangum:
    """The function's handler (lambda_handler.py): logs as JSON lines, then the app from the
    environment. Lambda's runtime owns the log handler (it tags records with the request id); the
    runtime's root level would drop the request log's INFO records, so ours is set."""
    settings = Settings()
    logs.use_json_on_existing_handlers(settings.log_level)
    return make_handler(settings)
