"""FastAPI dependencies as Annotated aliases; tests swap them with app.dependency_overrides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Header, Path, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from image_service.domain.errors import InvalidInput
from image_service.domain.models import ANONYMOUS, Caller
from image_service.domain.validation import IMAGE_ID_PATTERN
from image_service.domain.validation import user_id as valid_user_id
from image_service.services.context import Context
from image_service.services.keys import authenticate

AuthMode = Literal["api-key", "none"]
T = TypeVar("T")


async def get_context(request: Request) -> Context:
    # async on purpose: FastAPI would run a plain function in the threadpool, a thread hop per
    # request for a dictionary lookup.
    ctx: Context = request.app.state.context
    return ctx


# The two ways to send a key, as OpenAPI security schemes ("Authorize" in /docs). Neither refuses
# a request by itself (auto_error=False): reads are open to anonymous callers, and the services
# answer a write without identity with 401 {"error"}.
API_KEY = APIKeyHeader(
    name="x-api-key",
    scheme_name="ApiKey",
    description="An API key made with `image-service keys create`.",
    auto_error=False,
)
BEARER = HTTPBearer(
    scheme_name="Bearer",
    description="The same API key, as `Authorization: Bearer <key>`.",
    auto_error=False,
)
ApiKeyDep = Annotated[str | None, Security(API_KEY)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]


async def get_caller(request: Request, api_key: ApiKeyDep = None, bearer: BearerDep = None) -> Caller:
    mode: AuthMode = request.app.state.auth_mode
    if mode == "none":
        declared = request.headers.get("x-user-id") or request.query_params.get("user_id")
        if declared is not None:
            try:
                valid_user_id(declared)
            except InvalidInput:
                declared = None
        caller = Caller(user_id=declared, trusted=True)
    else:
        # Bearer first when both are sent, as before the schemes were declared.
        token = bearer.credentials if bearer is not None else api_key
        caller = ANONYMOUS
        if token is not None:
            caller = await run_in_threadpool(authenticate, request.app.state.context.keys, token)
    request.state.user = caller.user_id or ("admin" if caller.is_admin else "-")
    return caller


async def run_io(request: Request, work: Callable[..., T], *args: Any) -> T:
    """Run blocking storage work: inline when the backend is local and fast (the app's
    ``inline_io``), else in a thread."""
    if request.app.state.inline_io:
        return work(*args)
    return await run_in_threadpool(work, *args)


ContextDep = Annotated[Context, Depends(get_context)]
CallerDep = Annotated[Caller, Depends(get_caller)]
# An id that cannot exist is 400 before any storage is asked (errors.on_validation_error).
ImageIdPath = Annotated[
    str,
    Path(
        pattern=f"^{IMAGE_ID_PATTERN.pattern}$",
        description="The image's id, as the upload answered it",
        examples=["9b2f0c1e-5b7e-4d0e-9d1b-2f6f3f0a8c11"],
    ),
]
# Checked by services.idempotency.check_key (a 400 that says what a key may be); the schema
# constraints here only document it.
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            "Makes the request safe to retry, e.g. a UUID made once per upload. The same key from the"
            " same user within 24 hours answers with the first answer (same status, same body, same"
            " image ids, and the header `Idempotent-Replayed: true`) and stores nothing new. The same"
            " key with a different request is 409; so is a retry while the first attempt is still"
            " running, after waiting up to 5 seconds for its answer. A request that failed with a 4xx"
            " leaves the key unused. 1-255 visible ASCII characters."
        ),
        json_schema_extra={"minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    ),
]


def known_query_only(request: Request) -> None:
    """400 naming every query parameter the route does not declare: a filter a client misspells
    (``tagz``) or that the service lacks must never be silently ignored, as if it had matched."""
    route = request.scope["route"]
    known = _declared_query(route)
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        raise InvalidInput(f"unknown query parameter: {', '.join(unknown)}")


def _declared_query(route: APIRoute) -> frozenset[str]:
    names: set[str] = set()
    pending = [route.dependant]
    while pending:  # the route's own parameters and those of its dependencies
        dependant = pending.pop()
        names.update(p.alias for p in dependant.query_params)
        pending.extend(dependant.dependencies)
    return frozenset(names)


KnownQueryOnly = Depends(known_query_only)
