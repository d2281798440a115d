"""Direct upload of large files: start (get an upload URL), send the bytes, complete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from image_service.api.deps import CallerDep, ContextDep
from image_service.api.schemas import ErrorOut, MetadataIn, UploadOut
from image_service.api.serialize import image_json
from image_service.api.upload_parsing import read_capped
from image_service.services.direct_uploads import complete_direct_upload, receive_upload, start_direct_upload
from image_service.services.uploads import UploadDraft

router = APIRouter(tags=["direct uploads"], responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}})


class StartIn(MetadataIn):
    content_type: str
    size: int


class UploadTargetOut(BaseModel):
    url: str
    method: str
    fields: dict[str, str] | None = None
    headers: dict[str, str] | None = None


class StartOut(BaseModel):
    image_id: str
    upload: UploadTargetOut
    expires_in: int


@router.post("/images/uploads", status_code=201, response_model=StartOut, response_model_exclude_none=True)
def start(request: Request, body: StartIn, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    """Start a direct upload: answers where to send the bytes, then call `complete`."""
    values = body.model_dump(exclude={"content_type", "size"})
    pending, target = start_direct_upload(
        ctx, caller, UploadDraft(data=b"", **values), content_type=body.content_type, size=body.size
    )
    url = target.url if "://" in target.url else str(request.base_url).rstrip("/") + target.url
    return {
        "image_id": pending.image_id,
        "upload": {"url": url, "method": target.method, "fields": target.fields, "headers": target.headers},
        "expires_in": int((pending.expires_at - pending.created_at).total_seconds()),
    }


@router.put("/images/uploads/{image_id}/data", include_in_schema=False)
async def receive(request: Request, image_id: str, expires: int, signature: str, ctx: ContextDep) -> Any:
    """The embedded backend's upload URL (on AWS the bytes go to S3 instead)."""
    data = await read_capped(request, ctx.limits.max_image_bytes)
    await run_in_threadpool(receive_upload, ctx, image_id, expires=expires, signature=signature, data=data)
    return {"message": "upload received", "image_id": image_id}


@router.post(
    "/images/{image_id}/complete",
    status_code=201,
    response_model=UploadOut,
    response_model_exclude_unset=True,
    responses={415: {"model": ErrorOut}},
)
def complete(image_id: str, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    """Validate the uploaded bytes like a normal upload and store the image's metadata."""
    image = complete_direct_upload(ctx, caller, image_id)
    return {
        "message": "Image uploaded successfully",
        "image_id": image.image_id,
        "metadata": image_json(image),
    }
