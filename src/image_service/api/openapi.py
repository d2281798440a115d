"""The OpenAPI document, true to what the service answers, for people (/docs, /redoc) and for
client generators and contract testers (schemathesis, openapi-python-client).

FastAPI builds it from the routes; ``install`` then edits the few things it cannot say itself:
400 instead of its 422, optional security on reads, the auth mode and the base path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from image_service.api.schemas import ErrorOut

ERROR_DESCRIPTIONS = {
    400: "Invalid parameter or body",
    401: "Credentials missing or wrong",
    403: "Authenticated, but not allowed (someone else's image, a `user_id` not the caller's, or a"
    " signed URL that is expired or altered)",
    404: "Not found (also a private image the caller may not see)",
    409: "Conflict: the `name` is taken, or an `Idempotency-Key` was reused for another request or"
    " is still in use",
    413: "Payload too large: over `MAX_IMAGE_SIZE`, or more pixels than `MAX_IMAGE_PIXELS`",
    415: "Not an image, or a format the service does not accept",
    416: "Range not satisfiable",
    503: "A backend (storage or catalog) is unavailable",
}
# What an operation that reads or writes storage can always answer.
BACKEND_ERRORS = (400, 503)
# The methods whose operations anonymous callers may use (public images); the others need a key.
OPEN_METHODS = {"get", "head"}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for FastAPI: each status with the `{"error"}` body and what it means here."""
    return {s: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[s]} for s in statuses}


def install(app: FastAPI, *, auth: str, base_path: str = "") -> None:
    app.openapi = _openapi(app, auth=auth, base_path=base_path)  # type: ignore[method-assign]


def _openapi(app: FastAPI, *, auth: str, base_path: str) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = FastAPI.openapi(app)  # builds and caches app.openapi_schema; edited in place
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                _answer_400_not_422(operation)
                _security(operation, method, auth)
        components = schema.get("components", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.get("schemas", {}).pop(unused, None)
        if auth == "none":
            components.pop("securitySchemes", None)
        if base_path.strip("/"):
            # Mangum strips the API Gateway base path before routing: tell clients it is there.
            schema["servers"] = [{"url": "/" + base_path.strip("/")}]
        return schema

    return openapi


def _answer_400_not_422(operation: dict[str, Any]) -> None:
    """FastAPI documents a 422 on every operation with parameters, but this API answers request
    validation errors with 400 {"error"} (errors.on_validation_error): document that instead."""
    responses = operation.get("responses", {})
    if responses.pop("422", None) is not None and "400" not in responses:
        responses["400"] = {
            "description": ERROR_DESCRIPTIONS[400],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
        }


def _security(operation: dict[str, Any], method: str, auth: str) -> None:
    """Operations that identify the caller list both schemes (deps.API_KEY, deps.BEARER); reads
    accept no credentials too, which OpenAPI says with an empty requirement, ``{}``."""
    security = operation.get("security")
    if security is None:
        return
    if auth == "none":  # the request's user_id names the caller: there is nothing to send
        del operation["security"]
        return
    if method in OPEN_METHODS and {} not in security:
        security.insert(0, {})
