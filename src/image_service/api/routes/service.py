"""Service routes: /health (and ?deep=true, which asks storage and catalog)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from image_service import __version__
from image_service.api.deps import ContextDep
from image_service.api.responses import JsonResponse
from image_service.api.schemas import HealthOut
from image_service.domain.errors import ImageServiceError

router = APIRouter(tags=["service"])


@router.get(
    "/health",
    response_model=HealthOut,
    response_model_exclude_none=True,
    responses={503: {"model": HealthOut}},
)
async def health(request: Request, ctx: ContextDep, deep: bool = False) -> Any:
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
