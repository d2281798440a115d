"""Service routes: /health (and ?deep=true, which asks storage and catalog)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from image_service import __version__
from image_service.api.deps import ContextDep
from image_service.api.responses import JsonResponse
from image_service.api.schemas import ErrorOut, HealthOut
from image_service.domain.errors import ImageServiceError

router = APIRouter(tags=["service"])


@router.get(
    "/health",
    response_model=HealthOut,
    response_model_exclude_none=True,
    operation_id="health",
    summary="Is the service up? With `deep=true`, do storage and catalog answer?",
    responses={
        400: {"model": ErrorOut, "description": "Invalid parameter"},
        503: {"model": HealthOut, "description": "Storage or catalog unavailable (`deep=true`)"},
    },
)
async def health(
    request: Request,
    ctx: ContextDep,
    deep: Annotated[bool, Query(description="Also ask storage and catalog")] = False,
) -> Any:
    body: dict[str, Any] = {
        "status": "healthy",
        "service": "image-service",
        "version": __version__,
        "backend": request.app.state.backend,
    }
    if not deep:
        return body
    checks = {}
    for name, port in (("storage", ctx.blobs), ("catalog", ctx.catalog)):
        try:
            await run_in_threadpool(port.ping)
            checks[name] = "ok"
        except ImageServiceError:
            checks[name] = "unavailable"
    body["checks"] = checks
    if any(v != "ok" for v in checks.values()):
        body["status"] = "unhealthy"
        return JsonResponse(body, status_code=503)
    return body
