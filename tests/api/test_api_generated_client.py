"""A typed client generated from the live /openapi.json (openapi-python-client) works: it uploads
(JSON base64), lists and views images against the real server, with an API key as a Bearer token.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from api_helpers import b64, png, unique
from api_server import Server

pytestmark = pytest.mark.api

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture
def client_package(server: Server, tmp_path: Path) -> Iterator[str]:
    """The generated package's name, importable for the test's duration."""
    package = f"image_client_{server.backend}"
    spec = tmp_path / "openapi.json"
    spec.write_text(httpx.get(f"{server.base_url}/openapi.json").text)
    config = tmp_path / "config.yaml"
    config.write_text(f"package_name_override: {package}\n")
    # The generator formats its output with ruff, which it looks for on PATH.
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(GENERATOR), "generate", "--path", str(spec), "--meta", "none", "--config", str(config)]
    command += ["--output-path", str(tmp_path / package)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every operation a client needs is generated (the content routes answer bytes, not JSON).
    for module in ("images/upload_images", "images/list_images", "images/get_image", "service/health"):
        assert (tmp_path / package / "api" / f"{module}.py").is_file(), result.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        yield package
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[name]


def load(package: str, module: str) -> ModuleType:
    return importlib.import_module(f"{package}.{module}")


def test_a_generated_client_uploads_lists_and_views(
    server: Server, alice_key: str, client_package: str
) -> None:
    client_module = load(client_package, "client")
    models = load(client_package, "models")
    upload_images = load(client_package, "api.images.upload_images")
    list_images = load(client_package, "api.images.list_images")
    get_image = load(client_package, "api.images.get_image")
    tag = unique("gen")

    with client_module.AuthenticatedClient(base_url=server.base_url, token=alice_key) as client:
        body = models.UploadImagesJsonBody(
            image_data=b64(png(12, 10)), filename="dot.png", title="From a generated client", tags=[tag]
        )
        uploaded = upload_images.sync_detailed(client=client, body=body)
        assert uploaded.status_code == 201, uploaded.content
        assert isinstance(uploaded.parsed, models.UploadOut)
        image = uploaded.parsed.metadata
        assert isinstance(image, models.ImageOut)
        assert (image.user_id, image.width, image.height) == ("alice", 12, 10)
        assert image.content_type == "image/png"

        page = list_images.sync(client=client, tag=[tag], limit=5)
        assert isinstance(page, models.ListOut)
        assert [i.image_id for i in page.images] == [uploaded.parsed.image_id]
        assert page.count == 1 and page.has_more is False

        view = get_image.sync(client=client, image_id=image.image_id)
        assert isinstance(view, models.ViewOut)
        assert view.metadata.title == "From a generated client"
        content = f"{server.base_url}/images/{image.image_id}/content"
        assert httpx.get(view.url).content == httpx.get(content, headers={"x-api-key": alice_key}).content

        refused = list_images.sync_detailed(client=client, limit=0)
        assert refused.status_code == 400 and isinstance(refused.parsed, models.ErrorOut)
