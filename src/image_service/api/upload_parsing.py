"""Turn an upload request (JSON with base64, or multipart with `file`/`files`) into drafts."""

from __future__ import annotations

import binascii
import re
from typing import Any, TypeVar

import orjson
import pybase64
from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from image_service.api.schemas import MetadataIn
from image_service.domain.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from image_service.services.uploads import MAX_BATCH_FILES, UploadDraft

DATA_URL = re.compile(r"data:([\w.+/-]*)(;[\w=.+-]+)*;base64,", re.IGNORECASE)
FILE_FIELDS = ("file", "files")
Body = TypeVar("Body", bound=BaseModel)


class UploadJson(MetadataIn):
    image_data: str


async def drafts_from_request(request: Request, max_bytes: int) -> tuple[list[UploadDraft], bool]:
    """The drafts, and whether the client sent a batch (multipart `files`)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    multipart = content_type == "multipart/form-data"
    limit = body_limit(max_bytes, multipart=multipart)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    if multipart:
        return await _from_form(request, max_bytes)
    if content_type in ("application/json", ""):
        # Parsing and decoding take ~0.5 ms a megabyte (orjson, pybase64), a few ms for the largest
        # bodies: off the event loop, which other requests share.
        body = await read_capped(request, limit)
        return await run_in_threadpool(drafts_from_json, body, max_bytes), False
    raise UnsupportedMediaType("send application/json with base64 image_data, or multipart/form-data")


def body_limit(max_bytes: int, *, multipart: bool = True) -> int:
    """The largest body an upload may have: one base64 image (4/3 of its size), or a batch of
    MAX_BATCH_FILES images; 1 MiB more for the metadata and the multipart framing."""
    images = max_bytes * MAX_BATCH_FILES if multipart else max_bytes * 4 // 3
    return images + 1024 * 1024


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (also when sent chunked)."""
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def drafts_from_json(body: bytes, max_bytes: int) -> list[UploadDraft]:
    """The one draft of a JSON upload body (``image_data`` in base64, or ``image_file``)."""
    # orjson parses the megabyte-long image_data string twice as fast as json.loads and refuses
    # what RFC 8259 refuses (UTF-16 bodies, NaN, lone surrogates); its nesting limit (1024) raises
    # JSONDecodeError, a ValueError, where json.loads would raise RecursionError.
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("body is not valid JSON") from None
    if not isinstance(raw, dict):
        raise InvalidInput("body must be a JSON object")
    if "image_data" not in raw and "image_file" in raw:
        raw["image_data"] = raw.pop("image_file")
    parsed = validated(UploadJson, raw)
    data = decode_base64(parsed.image_data, max_bytes)
    values = parsed.model_dump(exclude={"image_data"})
    return [UploadDraft(data=data, **values)]


def validated(model: type[Body], raw: dict[str, Any]) -> Body:
    """``raw`` as ``model``, or InvalidInput naming each field that is unknown or wrong."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown field {field}")
            else:
                message = str(error["msg"]).removeprefix("Value error, ")
                problems.append(f"{field}: {message}" if field else message)
        raise InvalidInput(f"invalid upload body: {'; '.join(problems)}") from None


def decode_base64(text: str, max_bytes: int) -> bytes:
    match = DATA_URL.match(text)
    if match:
        if not match.group(1).lower().startswith("image/"):
            raise UnsupportedMediaType("the data URL is not an image")
        text = text[match.end() :]
    if any(c in text for c in " \n\r\t"):  # line-wrapped base64; memchr-fast when there is none
        text = "".join(text.split())
    if len(text) * 3 // 4 > max_bytes + 3:
        raise PayloadTooLarge(f"image is larger than {max_bytes} bytes")
    try:
        # pybase64 (SIMD) decodes a megabyte in ~0.05 ms where base64.b64decode takes ~3.5 ms (its
        # validate=True runs a regular expression over the text, then a byte-at-a-time decoder).
        # As strict: a character outside the alphabet or bad padding is an error; stricter only in
        # refusing "=" after a complete 4-character group (RFC 4648 padding), which no encoder makes.
        data = pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("image_data is not valid base64") from None
    if not data:
        raise InvalidInput("image_data is empty")
    return data


async def _from_form(request: Request, max_bytes: int) -> tuple[list[UploadDraft], bool]:
    try:
        form = await request.form(max_files=MAX_BATCH_FILES, max_fields=100)
    except PayloadTooLarge:
        raise
    except Exception as exc:  # python-multipart raises several unrelated types on malformed input
        raise InvalidInput("malformed multipart body") from exc
    try:
        files = [f for f in form.getlist("files") + form.getlist("file") if isinstance(f, UploadFile)]
        if not files:
            raise InvalidInput("multipart upload needs a file in 'file' or files in 'files'")
        meta = _form_metadata(form)
        if len(files) > 1 and meta["name"]:
            raise InvalidInput("name can only be given for a single file")
        drafts = []
        for upload in files:
            data = await upload.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise PayloadTooLarge(f"{upload.filename or 'file'}: image is larger than {max_bytes} bytes")
            filename = meta["filename"] if len(files) == 1 and meta["filename"] else upload.filename
            drafts.append(UploadDraft(data=data, **{**meta, "filename": filename}))
        return drafts, bool(form.getlist("files"))
    finally:
        await form.close()


def _form_metadata(form: FormData) -> dict[str, Any]:
    """The text fields of a multipart upload, checked by the same model as a JSON upload's: an
    unknown field is refused by name, never ignored. ``tags`` may repeat; nothing else may."""
    raw: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key in FILE_FIELDS:
            if not isinstance(value, UploadFile):
                raise InvalidInput(f"{key} must be a file")
            continue
        if not isinstance(value, str):
            raise InvalidInput(f"{key} must be a text field")
        if key == "tags":
            raw.setdefault("tags", []).append(value)
        elif key in raw:
            raise InvalidInput(f"{key} is given more than once")
        else:
            raw[key] = value
    if "tags" in raw:
        raw["tags"] = ",".join(raw["tags"])
    return validated(MetadataIn, raw).model_dump()
