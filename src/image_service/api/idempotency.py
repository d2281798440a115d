"""Answers under an Idempotency-Key (``services.idempotency``), over HTTP.

The use case's steps (a claim, the upload) run in the threadpool and the pauses between them on
the event loop, so a retry that waits for a concurrent attempt with its key holds no worker
thread meanwhile: a storm of retries cannot starve the first attempts of the threads they need.
"""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool

from image_service.api.responses import JsonResponse
from image_service.services.context import Context
from image_service.services.idempotency import Answer, KeyedRequest, Work, advance, attempts


async def answer_once(ctx: Context, request: KeyedRequest | None, work: Work) -> JsonResponse:
    return answer_response(await answered_once(ctx, request, work))


async def answered_once(ctx: Context, request: KeyedRequest | None, work: Work) -> Answer:
    """``answer_once``'s answer, for a route that looks at a replay before it is sent."""
    steps = attempts(ctx, request, work)
    while not isinstance(step := await run_in_threadpool(advance, steps), Answer):
        await asyncio.sleep(step)
    return step


def answer_response(answer: Answer) -> JsonResponse:
    """The answer as it was first given; a replay says so in ``Idempotent-Replayed``."""
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JsonResponse(answer.body, status_code=answer.status, headers=headers)
