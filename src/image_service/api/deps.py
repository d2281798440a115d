"""FastAPI dependencies as Annotated aliases; tests swap them with app.dependency_overrides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from image_service.domain.errors import InvalidInput
from image_service.domain.models import ANONYMOUS, Caller
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


async def get_caller(request: Request) -> Caller:
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
        token = _token(request)
        caller = ANONYMOUS
        if token is not None:
            caller = await run_in_threadpool(authenticate, request.app.state.context.keys, token)
    request.state.user = caller.user_id or ("admin" if caller.is_admin else "-")
    return caller


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or None


async def run_io(ctx: Context, work: Callable[..., T], *args: Any) -> T:
    """Run blocking storage work: inline when the backend is local and fast, else in a thread."""
    if ctx.inline_io:
        return work(*args)
    return await run_in_threadpool(work, *args)


ContextDep = Annotated[Context, Depends(get_context)]
CallerDep = Annotated[Caller, Depends(get_caller)]
