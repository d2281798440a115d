"""AWS requests per API call: how many DynamoDB and S3 calls each route makes on the aws backend.

The app is the real one, ``create_app(aws_context(settings), auth="api-key", backend="aws")`` on
DynamoDB Local and moto S3 (started here), driven in-process through httpx's ``ASGITransport``,
so routes, dependencies, services and adapters are the ones the service runs. botocore's
``after-call`` event on the two clients the Context uses records every API call a request makes
(presigning a URL is local: no call). Callers: a user's API key (stored in the table, so each
authenticated request looks it up: a GetItem), or no key at all (anonymous).

The Context's image ids are seeded, so the images land in the same shards every run and a list
page's Query count is repeatable. Each operation runs ``REPEATS`` times on fresh images (45
uploads first, public and every fifth private, two tags each); the counts must be the same every time
(they are reported as min-max when not). Times are wall-clock through the emulators on a shared
machine and only indicative; the counts are what this benchmark is about.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.aws_common import Call, CallLog, aws_versions, capacity_units, clients_for, emulators
from benchmarks.common import Config, Result, Table, Target, median, ms, noisy_jpeg, temp_dir
from image_service.api.app import create_app
from image_service.bootstrap import aws_context
from image_service.services.keys import create_key
from image_service.settings import Settings

NAME = "requests"
REPEATS, QUICK_REPEATS = 10, 3
SEED_IMAGES = 45  # enough for full list pages; every upload is also an upload sample
OWNER = "alice"
SEED = 20261122


@dataclass
class Operation:
    label: str
    samples: list[list[Call]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


def describe(call: Call) -> str:
    """One call as 'service:Operation' plus what it touched (key kind, index, item count)."""
    params = call.params
    name = f"{call.service}:{call.operation}" if call.service == "s3" else call.operation
    if "Key" in params and isinstance(params["Key"], dict):
        return f"{name}({params['Key']['PK']['S'].split('#')[0]})"
    if call.operation == "Query":
        return f"{name}({params.get('IndexName', 'table')})"
    if call.operation == "TransactWriteItems":
        return f"{name}({len(params['TransactItems'])} items)"
    if call.operation == "BatchGetItem":
        return f"{name}({sum(len(v['Keys']) for v in params['RequestItems'].values())} keys)"
    return name


def grouped(calls: list[Call]) -> str:
    """The calls in first-seen order, repeats counted: parallel Queries finish in any order."""
    counts = Counter(describe(c) for c in calls)
    return ", ".join(f"{n} x {what}" if n > 1 else what for what, n in counts.items())


class Driver:
    """Requests to the app in this process, one at a time, each with the AWS calls it made."""

    def __init__(self, runner: asyncio.Runner, client: httpx.AsyncClient, calls: CallLog, token: str) -> None:
        self.runner, self.client, self.calls, self.token = runner, client, calls, token
        self.operations: dict[str, Operation] = {}

    def measure(self, label: str, method: str, url: str, *, auth: bool = True, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        self.calls.take()
        started = time.perf_counter()
        response = self.runner.run(self.client.request(method, url, headers=headers, **kwargs))
        seconds = time.perf_counter() - started
        operation = self.operations.setdefault(label, Operation(label))
        operation.samples.append(self.calls.take())
        operation.seconds.append(seconds)
        operation.statuses[response.status_code] += 1
        if response.status_code >= 400:
            raise AssertionError(f"{label}: {response.status_code} {response.text[:300]}")
        return (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else None
        )


def settings_for(env: dict[str, str]) -> Settings:
    return Settings.with_fields(
        backend="aws",
        auth="api-key",
        bucket_name=env["BUCKET_NAME"],
        table_name=env["TABLE_NAME"],
        aws_region=env["AWS_DEFAULT_REGION"],
        aws_endpoint_url_s3=env["AWS_ENDPOINT_URL_S3"],
        aws_endpoint_url_dynamodb=env["AWS_ENDPOINT_URL_DYNAMODB"],
        signing_key=env["IMAGE_SERVICE_SIGNING_KEY"],
        admin_key=env["IMAGE_SERVICE_ADMIN_KEY"],
    )


def run(cfg: Config, log: Callable[[str], None] = print) -> Result:
    result = Result(NAME)
    repeats = QUICK_REPEATS if cfg.quick else REPEATS
    data = noisy_jpeg(50_000)
    versions = aws_versions()
    with temp_dir(NAME) as tmp, emulators(Path(tmp), log) as emu:
        clients = clients_for(emu)
        # Seeded image ids: which shard each image lands in is then the same every run, and so
        # are the Queries a list page needs.
        rng = random.Random(SEED)
        ctx = dataclasses.replace(
            aws_context(settings_for(emu.env()), clients),
            new_id=lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        )
        _, token = create_key(ctx.keys, OWNER, is_admin=False, now=datetime.now(UTC))
        calls = CallLog()
        calls.hook(clients.dynamodb, consumed_capacity=True)
        calls.hook(clients.s3)
        transport = httpx.ASGITransport(app=create_app(ctx, auth="api-key", backend="aws"))
        with asyncio.Runner() as runner:
            client = httpx.AsyncClient(transport=transport, base_url="http://bench")
            driver = Driver(runner, client, calls, token)
            driver.measure("GET /health (warm-up)", "GET", "/health")
            _exercise(driver, data, repeats, log)
            runner.run(client.aclose())
    result.details.update(
        versions=versions,
        repeats=repeats,
        image_bytes=len(data),
        operations={
            op.label: {
                "statuses": {str(status): n for status, n in op.statuses.items()},
                "calls": [grouped(sample) for sample in op.samples],
                "attempts": [[c.attempts for c in sample] for sample in op.samples],
                "units": [sum(capacity_units(c) for c in sample) for sample in op.samples],
                "ms": [ms(s) for s in op.seconds],
            }
            for op in driver.operations.values()
        },
    )
    result.tables, result.targets = _report(list(driver.operations.values()))
    return result


def _exercise(driver: Driver, data: bytes, repeats: int, log: Callable[[str], None]) -> None:
    log(f"  uploading {SEED_IMAGES} images (each one an upload sample)")
    ids: list[str] = []
    for n in range(max(SEED_IMAGES, repeats)):
        tags = "sunset,beach" if n % 2 else "sunset,city"  # as many tags: one TransactWriteItems size
        form = {"tags": tags, "visibility": "private" if n % 5 == 4 else "public"}
        body = driver.measure(
            "POST /images (upload, multipart)", "POST", "/images",
            data=form, files={"file": (f"photo{n}.jpg", data, "image/jpeg")},
        )  # fmt: skip
        ids.append(body["image_id"])
    public = [i for n, i in enumerate(ids) if n % 5 != 4]
    log(f"  reading, listing, updating and deleting ({repeats} of each)")
    for image_id in public[:repeats]:
        driver.measure("GET /images/{id} (metadata + signed URL)", "GET", f"/images/{image_id}")
        driver.measure("GET /images/{id}, anonymous", "GET", f"/images/{image_id}", auth=False)
        driver.measure("GET /images/{id}/content", "GET", f"/images/{image_id}/content")
        driver.measure(
            "GET /images/{id}/content, anonymous", "GET", f"/images/{image_id}/content", auth=False
        )
    for _ in range(repeats):
        driver.measure("GET /images (page of 20), anonymous = public", "GET", "/images?limit=20", auth=False)
        driver.measure("GET /images (page of 20), owner = public or mine", "GET", "/images?limit=20")
        driver.measure("GET /images?user_id=me (page of 20)", "GET", f"/images?limit=20&user_id={OWNER}")
        driver.measure("GET /images?tag=beach (page of 20)", "GET", "/images?limit=20&tag=beach", auth=False)
    for image_id in public[:repeats]:
        driver.measure(
            "PATCH /images/{id} (title)", "PATCH", f"/images/{image_id}", json={"title": "Renamed"}
        )
    for image_id in ids[-repeats:]:
        driver.measure("DELETE /images/{id}", "DELETE", f"/images/{image_id}")


def _signature(sample: list[Call]) -> tuple[str, ...]:
    return tuple(sorted(describe(c) for c in sample))


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def _report(operations: list[Operation]) -> tuple[list[Table], list[Target]]:
    table = Table(
        "AWS calls per API request (create_app(aws_context(...)) in-process, DynamoDB Local + moto S3)",
        ["request", "samples", "DynamoDB calls", "S3 calls", "total", "calls", "DynamoDB units",
         "retries", "ms p50"],
    )  # fmt: skip
    steady = True
    for op in operations:
        patterns = Counter(_signature(sample) for sample in op.samples)
        top = patterns.most_common(1)[0][0]
        common = grouped(next(sample for sample in op.samples if _signature(sample) == top))
        steady &= len(patterns) == 1
        dynamodb = [sum(c.service == "dynamodb" for c in s) for s in op.samples]
        s3 = [sum(c.service == "s3" for c in s) for s in op.samples]
        retries = sum(c.attempts - 1 for s in op.samples for c in s)
        total = [len(s) for s in op.samples]
        table.add(
            op.label, len(op.samples), _span(dynamodb), _span(s3), _span(total),
            common + ("" if len(patterns) == 1 else f" (+{len(patterns) - 1} other patterns)"),
            median([sum(capacity_units(c) for c in s) for s in op.samples]), retries, ms(median(op.seconds)),
        )  # fmt: skip
    table.notes += [
        "GetItem(APIKEY) is the API-key lookup every authenticated request makes; anonymous rows show "
        "the same route without it",
        "presigned URLs are computed locally (no call); Query(index) = one Query on that GSI partition, "
        "a list page reads every stream of its plan and then one BatchGetItem for the page's images",
        "DynamoDB units: read + write capacity units the calls consumed as DynamoDB Local reports them "
        "(ReturnConsumedCapacity, added by the benchmark's hook), median over the samples",
        "ms: in-process, through the emulators on a shared 2-core machine; indicative only",
    ]
    targets = [
        Target(
            "the same calls for every sample of an operation",
            "yes",
            "yes" if steady else "no (see the calls column)",
            steady,
        )
    ]
    return [table], targets
