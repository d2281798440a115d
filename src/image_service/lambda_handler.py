"""The AWS Lambda entry point: API Gateway (REST API v1 or HTTP API v2) -> Mangum -> FastAPI.

Importing this module builds the app from the environment (``lambda_app.handler_from_env``) but makes
no network call: boto3 clients are created on the first request that needs them and then reused
for the life of the process. Tests import ``lambda_app`` instead, which builds nothing on import.
"""

from __future__ import annotations

import gc
from typing import Any

# The cold start is mostly imports (FastAPI's alone are ~0.3 s), and the first request adds
# FastAPI's route set-up and botocore's clients and models: the cyclic garbage collector only slows
# these down, as they make many objects and free few (~100 collections, ~15 ms, in a first GET).
# Off until the first answer is sent, then the survivors are frozen out of later collections
# (docs/PERFORMANCE.md, cold start).
gc.disable()

from image_service.lambda_app import handler_from_env  # noqa: E402

try:
    _app = handler_from_env()
except BaseException:
    gc.enable()
    raise

_cold = True


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Mangum's answer to one API Gateway event. Lambda sends an execution environment one event
    at a time, so the first call, the one with the collector still off, is never concurrent."""
    global _cold
    if not _cold:
        return _app(event, context)
    try:
        return _app(event, context)
    finally:
        _cold = False
        gc.freeze()
        gc.enable()
