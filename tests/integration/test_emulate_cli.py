"""`image-service emulate` and `image-service serve --backend aws --emulate`, as a user runs them:
real processes, the emulators they start, and the API on top."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from api_helpers import png, post_image

from image_service.devtools.emulator import free_port

EXE = Path(sys.executable).with_name("image-service")


def clean_env(tmp_path: Path) -> dict[str, str]:
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("IMAGE_SERVICE_", "AWS_", "BUCKET", "TABLE"))
    }
    return {**keep, "PYTHONUNBUFFERED": "1", "HOME": os.environ.get("HOME", str(tmp_path))}


def wait_for(predicate: object, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with {process.returncode}"
        if callable(predicate) and predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_serve_with_emulate_runs_the_api_on_local_aws(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "stdout"
    with open(out, "w") as stdout, open(tmp_path / "stderr", "w") as stderr:
        process = subprocess.Popen(
            [str(EXE), "serve", "--backend", "aws", "--emulate", "--port", str(port)],
            stdout=stdout, stderr=stderr, text=True, env=clean_env(tmp_path),
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/health?deep=true", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, process)
        assert httpx.get(f"{base}/health").json()["backend"] == "aws"
        admin_key = out.read_text().strip().splitlines()[-1]
        assert admin_key.startswith("isk_")
        with httpx.Client(base_url=base, headers={"x-api-key": admin_key}) as client:
            data = png()
            created = post_image(client, data, name="e.png")
            assert created.status_code == 201, created.text
            assert client.get("/e.png").content == data
            view = client.get(f"/images/{created.json()['image_id']}").json()
            assert httpx.get(view["url"]).content == data, "the presigned URL is served by the local S3"
    finally:
        stop(process)
    assert process.returncode is not None


def ignore_sigint() -> None:
    """What a shell does to a background job when it has no job control (`cmd &` in a script):
    the job and its children start with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("started_as", ["foreground", "background-job"])
def test_emulate_prints_the_environment_and_runs_until_interrupted(tmp_path: Path, started_as: str) -> None:
    with open(tmp_path / "stderr", "w") as stderr:
        process = subprocess.Popen(
            [str(EXE), "emulate", "--bucket", "bucket-one", "--table", "table-one"],
            stdout=subprocess.PIPE, stderr=stderr, text=True, env=clean_env(tmp_path),
            preexec_fn=ignore_sigint if started_as == "background-job" else None,
        )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(11)]
        env = dict(
            line.removeprefix("export ").strip().split("=", 1) for line in lines if line.startswith("export ")
        )
        assert env["IMAGE_SERVICE_BACKEND"] == "aws"
        assert (env["BUCKET_NAME"], env["TABLE_NAME"]) == ("bucket-one", "table-one")
        for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB"):
            assert env[name].startswith("http://127.0.0.1:"), "loopback only"
        result = subprocess.run(
            [str(EXE), "keys", "list"], env={**clean_env(tmp_path), **env}, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "bootstrap" in result.stdout, "the printed admin key is the service's bootstrap key"
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0


def test_emulate_refuses_an_invalid_bucket_name_cleanly(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(EXE), "emulate", "--bucket", "b1"], env=clean_env(tmp_path), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot create the bucket or the table" in result.stderr
    assert "Traceback" not in result.stderr
