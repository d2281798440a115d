"""A real `image-service serve` process per configuration and backend, and the CLI beside it.

Each server gets its own data directory and free port; its stdout and stderr go to files next to
(not inside) the data directory, so tests can read the bootstrap admin key and the request log.
On the ``aws`` backend it also gets its own bucket and table on the session's DynamoDB Local +
moto S3 (``aws_emulators``), and starts as a first deployment does: no admin key configured, so
it creates one and prints it, as the local backend does.

What differs between the backends as seen over HTTP is written down once, in ``Traits``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aws_emulators import fresh_resources
from stored import AwsStorage, FilesystemStorage, Storage

from image_service.devtools.emulator import free_port

EXE = Path(sys.executable).with_name("image-service")
START_TIMEOUT = 30.0
# The small-limits server's MAX_IMAGE_SIZE and MAX_IMAGE_PIXELS (a 100x100 image is just allowed).
SMALL_MAX_BYTES = 20_000
SMALL_MAX_PIXELS = 10_000
BACKENDS = ["local", "aws"]


@dataclass(frozen=True)
class Traits:
    """The differences between the backends that a client can see, in one place."""

    name: str
    # View and upload URLs point at this server, which checks their signatures and expiry (local),
    # or at S3, which does (aws; moto, the S3 here, checks neither: TESTING.md).
    signs_own_urls: bool
    # Direct upload: the embedded backend's signed PUT to us, or a presigned POST to S3.
    upload_method: str
    # A view URL of a deleted image: our own route says 404; S3 says 404 NoSuchKey, or 403 to a
    # signer without s3:ListBucket (and moto answers 403 when the URL has response-* overrides).
    deleted_url_statuses: tuple[int, ...]


# Why a test runs on one backend only (pytest.mark.only_backend's reason).
MOTO_SIGNATURES = "moto does not check presigned URL signatures"
MOTO_EXPIRY = "moto does not enforce presigned URL expiry"

TRAITS = {
    "local": Traits("local", signs_own_urls=True, upload_method="PUT", deleted_url_statuses=(404,)),
    "aws": Traits("aws", signs_own_urls=False, upload_method="POST", deleted_url_statuses=(403, 404)),
}


@dataclass
class Server:
    traits: Traits
    storage: Storage
    base_url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    admin_key: str | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return self.traits.name

    def view_url_path(self, image: dict[str, Any]) -> str:
        """Where an image's view URL points (without the query): our signed content route, or the
        object in this server's bucket (path-style, as boto3 signs for an endpoint URL)."""
        if self.traits.signs_own_urls:
            return f"{self.base_url}/images/{image['image_id']}/content"
        return f"{self.env['AWS_ENDPOINT_URL_S3']}/{self.env['BUCKET_NAME']}/{image['s3_key']}"

    def upload_url_path(self, image_id: str) -> str:
        """Where a direct upload's bytes go (without the query): our signed PUT route, or the bucket."""
        if self.traits.signs_own_urls:
            return f"{self.base_url}/images/uploads/{image_id}/data"
        return f"{self.env['AWS_ENDPOINT_URL_S3']}/{self.env['BUCKET_NAME']}"

    def client(self, key: str | None = None, *, bearer: bool = False) -> httpx.Client:
        headers = {}
        if key is not None:
            headers = {"Authorization": f"Bearer {key}"} if bearer else {"x-api-key": key}
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=30.0)
        self.clients.append(client)
        return client

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the `image-service` CLI on this server's storage: its environment (the bucket and
        table on aws) and its data directory (the SQLite file on local)."""
        return subprocess.run(
            [str(EXE), *args, "--data-dir", str(self.data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def create_key(self, user: str, *, admin: bool = False) -> str:
        result = self.cli("keys", "create", "--user", user, *(["--admin"] if admin else []))
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(tmp_path_factory: pytest.TempPathFactory, label: str, backend: str, **env: str) -> Server:
    root = tmp_path_factory.mktemp(f"{label}-{backend}")
    data_dir = root / "data"
    port = free_port()
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("IMAGE_SERVICE_", "MAX_IMAGE_", "PRESIGNED_URL_"))
    }
    storage: Storage
    match backend:
        case "local":
            backend_env = {"IMAGE_SERVICE_BACKEND": "local"}
            storage = FilesystemStorage(data_dir)
        case "aws":
            resources = fresh_resources()
            backend_env = resources.env()
            del backend_env["IMAGE_SERVICE_ADMIN_KEY"]  # the first-start flow prints a fresh admin key
            storage = AwsStorage(resources)
        case _:
            raise ValueError(backend)
    full_env = {
        **clean,
        **backend_env,
        "IMAGE_SERVICE_AUTH": "api-key",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
        **env,
    }
    stdout_path, stderr_path = root / "stdout.log", root / "stderr.log"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(
            [str(EXE), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=out,
            stderr=err,
            env=full_env,
        )
    base_url = f"http://127.0.0.1:{port}"
    server = Server(TRAITS[backend], storage, base_url, data_dir, full_env, process, stdout_path, stderr_path)
    deadline = time.monotonic() + START_TIMEOUT
    label = f"{label} ({backend})"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server {label} exited with {process.returncode}:\n{server.stderr()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1.0).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"server {label} did not answer /health:\n{server.stderr()}")
        time.sleep(0.1)
    lines = server.stdout().strip().splitlines()
    server.admin_key = lines[-1].strip() if lines else None
    return server


Upload = Callable[..., dict[str, Any]]
NothingStored = Callable[[], AbstractContextManager[None]]
