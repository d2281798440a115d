"""Direct upload of large files: start (get an upload URL), send the bytes, complete."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from image_service.api.deps import CallerDep, ContextDep, IdempotencyKeyHeader, ImageIdPath
from image_service.api.idempotency import answer_response, answered_once
from image_service.api.openapi import BACKEND_ERRORS, error_responses
from image_service.api.responses import JsonResponse
from image_service.api.schemas import MetadataIn, UploadOut
from image_service.api.serialize import image_json, search_note
from image_service.api.upload_parsing import read_capped
from image_service.domain.models import PendingUpload, UploadTarget
from image_service.services.direct_uploads import (
    ACCEPTED_TYPES,
    complete_direct_upload,
    receive_upload,
    restart_direct_upload,
    start_direct_upload,
)
from image_service.services.idempotency import Answer, Reservation, keyed_upload
from image_service.services.uploads import UploadDraft

router = APIRouter(tags=["direct uploads"], responses=error_responses(*BACKEND_ERRORS))
# The bytes of a direct upload, as the embedded backend's signed PUT takes them.
UPLOAD_DATA_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file's bytes, with the `Content-Type` that `upload.headers` names",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class StartIn(MetadataIn):
    content_type: str = Field(
        description="The file's type: the upload URL accepts only this one",
        json_schema_extra={"enum": list[Any](sorted(ACCEPTED_TYPES))},
    )
    size: int = Field(description="The file's size in bytes", json_schema_extra={"minimum": 1})


class UploadTargetOut(BaseModel):
    url: str
    method: str
    fields: dict[str, str] | None = None
    headers: dict[str, str] | None = None


class StartOut(BaseModel):
    image_id: str
    upload: UploadTargetOut
    expires_in: int


@router.post(
    "/images/uploads",
    status_code=201,
    response_model=StartOut,
    response_model_exclude_none=True,
    operation_id="startDirectUpload",
    summary="Start a direct upload of a large file",
    responses=error_responses(401, 403, 409, 413, 415),
)
async def start(
    request: Request,
    body: StartIn,
    ctx: ContextDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JsonResponse:
    """Start a direct upload: answers where to send the bytes, then call `complete`."""
    # async only so that a retry waiting for a concurrent attempt with its key holds no thread;
    # the work itself runs in the threadpool (answer_once).
    draft = UploadDraft(data=b"", **body.model_dump(exclude={"content_type", "size"}))
    base_url = str(request.base_url).rstrip("/")

    def work(reservation: Reservation | None) -> Answer:
        return started(
            *start_direct_upload(
                ctx, caller, draft, content_type=body.content_type, size=body.size, reservation=reservation
            )
        )

    def restarted(replay: Answer) -> Answer:
        """The replay of a start not completed yet: its URL may have expired (docs/API.md)."""
        again = restart_direct_upload(
            ctx,
            caller,
            draft,
            content_type=body.content_type,
            size=body.size,
            image_id=replay.body["image_id"],
        )
        return replay if again is None else dataclasses.replace(started(*again), replayed=True)

    def started(pending: PendingUpload, target: UploadTarget) -> Answer:
        upload = {
            "url": target.url if "://" in target.url else base_url + target.url,
            "method": target.method,
            "fields": target.fields,
            "headers": target.headers,
        }
        return Answer(
            201,
            {
                "image_id": pending.image_id,
                "upload": {k: v for k, v in upload.items() if v is not None},
                "expires_in": int((pending.expires_at - pending.created_at).total_seconds()),
            },
        )

    keyed = keyed_upload(
        caller, idempotency_key, "direct upload", [draft], content_type=body.content_type, size=body.size
    )
    answer = await answered_once(ctx, keyed, work)
    if answer.replayed:
        answer = await run_in_threadpool(restarted, answer)
    return answer_response(answer)


class ReceivedOut(BaseModel):
    message: str
    image_id: str


@router.put(
    "/images/uploads/{image_id}/data",
    response_model=ReceivedOut,
    operation_id="putDirectUploadData",
    summary="Send a direct upload's bytes (embedded backend)",
    openapi_extra=UPLOAD_DATA_BODY,
    responses=error_responses(403, 404, 413),
)
async def receive(
    request: Request,
    image_id: ImageIdPath,
    expires: Annotated[int, Query(description="Of the signed upload URL")],
    signature: Annotated[str, Query(description="Of the signed upload URL")],
    ctx: ContextDep,
) -> Any:
    """The embedded backend's upload URL, as `startDirectUpload` answers it: signed, so it needs no
    credentials. On the AWS backend the bytes go to S3 instead, with a presigned POST."""
    data = await read_capped(request, ctx.limits.max_image_bytes)
    await run_in_threadpool(receive_upload, ctx, image_id, expires=expires, signature=signature, data=data)
    return {"message": "upload received", "image_id": image_id}


@router.post(
    "/images/{image_id}/complete",
    status_code=201,
    response_model=UploadOut,
    response_model_exclude_unset=True,
    operation_id="completeDirectUpload",
    summary="Complete a direct upload: validate the bytes and store the image",
    responses=error_responses(401, 403, 404, 409, 413, 415),
)
def complete(image_id: ImageIdPath, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    """Validate the uploaded bytes like a normal upload and store the image's metadata."""
    image = complete_direct_upload(ctx, caller, image_id)
    return {
        "message": "Image uploaded successfully",
        "image_id": image.image_id,
        "metadata": image_json(image),
        **search_note([image]),
    }
