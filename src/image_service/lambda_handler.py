"""The AWS Lambda entry point: API Gateway (REST API v1 or HTTP API v2) -> Mangum -> FastAPI.

Importing this module builds the app from the environment (``lambda_app.handler_from_env``) but makes
no network call: boto3 clients are created on the first request that needs them and then reused
for the life of the process. Tests import ``lambda_app`` instead, which builds nothing on import.
"""

from __future__ import annotations

import gc

# The cold start is mostly imports (FastAPI's alone are ~0.3 s): the cyclic garbage collector
# only slows them down, as they make many objects and free few. Off while importing, then the
# survivors are frozen out of later collections (docs/PERFORMANCE.md, cold start).
gc.disable()

from image_service.lambda_app import handler_from_env  # noqa: E402

try:
    handler = handler_from_env()
finally:
    gc.freeze()
    gc.enable()
