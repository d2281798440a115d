"""The artifact for this machine's architecture runs: a bare Python 3.12 imports the handler from
the unzipped zip alone and answers API Gateway (HTTP API) events, on the aws backend against the
emulators, so the trimmed botocore models are exercised for S3, DynamoDB and Secrets Manager; and
the imaging engine (pyvips, libvips) makes renditions from the artifact alone.

The artifact's bytecode is what the runtime loads: no .pyc is written or rewritten while it runs.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import subprocess
import zipfile
from pathlib import Path

import boto3
import pytest
from api_helpers import b64, jpeg, png, unique
from apigw import HttpRequest, http_api_event
from aws_emulators import AwsResources, fresh_resources
from package_helpers import EXCLUDED_MODULES, Built, invoke, render, snapshot
from PIL import Image

from image_service.devtools.emulator import CREDENTIALS, REGION, free_port


def aws_env(bucket: str, table: str, endpoint: str) -> dict[str, str]:
    return {
        "IMAGE_SERVICE_BACKEND": "aws",
        "IMAGE_SERVICE_AUTH": "api-key",
        "BUCKET_NAME": bucket,
        "TABLE_NAME": table,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        **CREDENTIALS,
    }


def test_health(built: Built, python: Path, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # /health without deep=true asks no backend
    env = {**aws_env("bucket", "table", closed), "IMAGE_SERVICE_SIGNING_KEY": secrets.token_hex(32)}
    before = snapshot(built.task_root)
    run = invoke(python, built.task_root, env, [http_api_event(HttpRequest("GET", "/health"))], tmp_path)
    (health,) = run.replies
    assert health.status == 200, health.text
    assert health.json()["status"] == "healthy" and health.json()["backend"] == "aws"
    assert run.handler_file == str(built.task_root / "image_service" / "lambda_handler.py")
    assert run.elsewhere == []
    assert run.excluded == []
    # The engine loads on the first rendition or upload that needs it, not for every cold start.
    assert not {"pyvips", "_libvips"} & set(run.loaded)
    assert snapshot(built.task_root) == before, "the runtime wrote bytecode: the artifact's was not used"


def test_the_engine_makes_renditions_from_the_artifact_alone(built: Built, python: Path) -> None:
    """The service's rendition maker, pyvips (pure Python, its wheel built from the sdist), its
    binding and libvips (pyvips-binary's manylinux wheel) all load from the unzipped zip and make
    a 256-pixel rendition of a JPEG in every output format, each of which Pillow here reads back."""
    before = snapshot(built.task_root)
    source = jpeg(640, 480)
    formats = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}
    result = render(python, built.task_root, source, list(formats), 256)
    assert result["pyvips_file"] == str(built.task_root / "pyvips" / "__init__.py")
    assert result["api_mode"] is True  # the compiled binding (_libvips), not the ABI-mode fallback
    (libvips,) = result["libvips"]
    assert libvips.startswith(str(built.task_root / "pyvips_binary.libs")), libvips
    assert result["version"][0] == 8
    for fmt, pillow_format in formats.items():
        made = result["renditions"][fmt]
        assert made["content_type"] == f"image/{fmt}"
        with Image.open(io.BytesIO(base64.b64decode(made["data"]))) as image:
            assert (image.format, image.size) == (pillow_format, (256, 192)), fmt
    assert snapshot(built.task_root) == before, "the runtime wrote bytecode: the artifact's was not used"


@pytest.fixture
def resources_with_secret() -> tuple[AwsResources, str, str]:
    """A fresh bucket and table, and a Secrets Manager secret (on moto) holding the service's keys:
    the resources, the secret's ARN and the admin key."""
    resources = fresh_resources()
    admin_key = f"isk_bootstrap_{secrets.token_urlsafe(32)}"
    session = boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    manager = session.client("secretsmanager", endpoint_url=resources.emulators.s3_url)  # moto serves it
    try:
        secret = manager.create_secret(
            Name=unique("image-service"),
            SecretString=json.dumps({"signing_key": secrets.token_hex(32), "admin_key": admin_key}),
        )
    finally:
        manager.close()
    return resources, secret["ARN"], admin_key


def test_upload_and_read_back_on_the_emulators(
    built: Built, python: Path, tmp_path: Path, resources_with_secret: tuple[AwsResources, str, str]
) -> None:
    resources, secret_arn, admin_key = resources_with_secret
    emu = resources.emulators
    env = {
        **aws_env(resources.bucket, resources.table, emu.s3_url),
        "AWS_ENDPOINT_URL_DYNAMODB": emu.dynamodb_url,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": emu.s3_url,
        # The keys come from the secret only: the admin key works only if it was read.
        "IMAGE_SERVICE_SECRET_ARN": secret_arn,
    }
    data = png(12, 10)
    name = f"{unique('packaged')}.png"
    upload = json.dumps({"user_id": "alice", "image_data": b64(data), "name": name}).encode()
    json_headers = [("x-api-key", admin_key), ("content-type", "application/json")]
    events = [
        http_api_event(HttpRequest("GET", "/health", [("deep", "true")])),
        http_api_event(HttpRequest("POST", "/images", headers=json_headers, body=upload)),
        http_api_event(HttpRequest("GET", f"/{name}")),
        http_api_event(HttpRequest("GET", "/images", [("limit", "5")], [("x-api-key", admin_key)])),
    ]
    before = snapshot(built.task_root)
    run = invoke(python, built.task_root, env, events, tmp_path)
    deep, created, content, listed = run.replies
    assert deep.status == 200 and deep.json()["checks"] == {"storage": "ok", "catalog": "ok"}, deep.text
    assert created.status == 201, created.text
    assert content.status == 200 and content.is_base64 and content.body == data
    assert listed.status == 200 and [i["name"] for i in listed.json()["images"]] == [name], listed.text
    image_id = created.json()["image_id"]
    stored = resources.catalog().get(image_id)
    assert stored.name == name
    assert resources.blobs().get(stored.blob_key) == data
    assert run.excluded == []
    assert snapshot(built.task_root) == before, "the runtime wrote bytecode: the artifact's was not used"


def test_excluded_packages_are_not_in_the_artifact(built: Built) -> None:
    with zipfile.ZipFile(built.report.zip_path) as archive:
        tops = {name.partition("/")[0] for name in archive.namelist()}
    for module in (*EXCLUDED_MODULES, "click", "uvloop", "httptools", "watchfiles", "websockets"):
        assert not {t for t in tops if t == module or t.lower().startswith(f"{module}-")}, module


def test_bytecode_is_compiled_for_the_runtime(built: Built, target_python: Path) -> None:
    magic = subprocess.run(
        [str(target_python), "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    tag = built.report.python_version.replace(".", "")
    sources = sorted((built.task_root / "image_service").rglob("*.py"))
    assert sources
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-{tag}.pyc"
        assert pyc.is_file(), f"no bytecode for {source.relative_to(built.task_root)}"
        header = pyc.read_bytes()[:8]
        assert header[:4].hex() == magic, pyc
        # PEP 552 flags: 0b01 is hash-based and unchecked, so an unzipped mtime cannot make it stale.
        assert int.from_bytes(header[4:8], "little") == 0b01, pyc
