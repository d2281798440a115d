"""`image-service deploy` and `destroy` as a user runs them: arguments, region, and the AWS
endpoint taken from the environment (here moto, as LocalStack would be)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aws_emulators import emulators

CLI = [sys.executable, "-m", "image_service.cli.main"]
ROOT = Path(__file__).parents[2]


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(
        {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_CONFIG_FILE": "/dev/null"}
    )
    return subprocess.run(
        [*CLI, *args], env={**base, **env}, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_deploy_refuses_a_parameter_that_is_not_name_value(tmp_path: Path) -> None:
    artifact = tmp_path / "lambda.zip"
    artifact.write_bytes(b"PK")
    done = run("deploy", "--region", "eu-west-1", "--artifact", str(artifact), "--parameter", "MemorySize")
    assert done.returncode == 2 and "Name=Value" in done.stderr


def test_deploy_and_destroy_need_a_region() -> None:
    for command in ("deploy", "destroy"):
        done = run(command, "--yes") if command == "destroy" else run(command)
        assert done.returncode == 2 and "no region" in done.stderr, (command, done.stderr)


def test_destroy_reaches_the_endpoint_from_the_environment() -> None:
    done = run("destroy", "--stack", "never-made", "--yes", AWS_DEFAULT_REGION="us-east-1",
               AWS_ENDPOINT_URL=emulators().s3_url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "there is no stack never-made in us-east-1"


def test_destroy_asks_before_it_deletes() -> None:
    done = subprocess.run(
        [*CLI, "destroy", "--stack", "s", "--region", "us-east-1", "--delete-data"],
        input="n\n", capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 1 and "ALL IMAGES" in done.stdout
