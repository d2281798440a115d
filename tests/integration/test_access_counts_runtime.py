"""Which way each runtime counts accesses, wired by the real composition root on the embedded
backend: a server groups them and writes the rest when its lifespan ends; Lambda writes each GET
before it answers (nothing may run after an invocation)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from api_helpers import post_image, uploaded
from app_thread import serving

from image_service.bootstrap import bootstrap, build_app
from image_service.services.access_counts import GroupedAccessCounts
from image_service.services.context import Context
from image_service.settings import Settings

ALICE = {"X-User-Id": "alice"}


def settings(directory: Path) -> Settings:
    return Settings.with_fields(data_dir=directory, backend="local", auth="none")


def test_a_server_groups_counts_and_its_shutdown_writes_them(tmp_path: Path) -> None:
    wired = build_app(settings(tmp_path), runtime="server").state.context.access_counts
    assert isinstance(wired, GroupedAccessCounts)  # what a server gets by default
    # The same, with a window no test outlasts: only the lifespan's end writes the counts.
    ctx = bootstrap(settings(tmp_path))
    ctx = dataclasses.replace(ctx, access_counts=GroupedAccessCounts(ctx.catalog, interval=3600))
    app = build_app(settings(tmp_path), runtime="server", ctx=ctx)
    assert app.state.context.access_counts is ctx.access_counts
    assert ctx.access_counts is not None
    with serving(app) as client:  # a real uvicorn, which ends the lifespan when it stops
        image_id = uploaded(post_image(client, headers=ALICE, user_id="alice"))["image_id"]
        for _ in range(3):
            assert client.get(f"/images/{image_id}/content").status_code == 200
        assert (ctx.catalog.get(image_id).access_count, ctx.access_counts.pending) == (0, 3)
    assert ctx.access_counts.pending == 0  # the lifespan's end wrote them
    assert ctx.catalog.get(image_id).access_count == 3


def test_lambda_writes_every_get_before_answering(tmp_path: Path) -> None:
    app = build_app(settings(tmp_path), runtime="lambda")
    ctx: Context = app.state.context
    assert ctx.access_counts is None
    with serving(app) as client:
        image_id = uploaded(post_image(client, headers=ALICE, user_id="alice"))["image_id"]
        for n in (1, 2):
            assert client.get(f"/images/{image_id}/content").status_code == 200
            assert ctx.catalog.get(image_id).access_count == n
