"""Lambda cold start: a fresh Python process that imports the handler and answers one request.

Each run is a new ``python benchmarks/lambda_probe.py EVENT`` (see there), with the environment
of the aws backend pointed at DynamoDB Local + moto started here:

- ``GET /health`` as an API Gateway HTTP API (v2) event: import, app and adapters, no AWS call;
- ``GET /images/{id}`` of a public image (uploaded beforehand): also boto3, one DynamoDB client
  (GetItem) and one S3 client (the presigned URL, computed locally);
- ``GET /images/{id}/content?w=256`` of the same image, a rendition the warm-up round made and
  stored: a read as well. ``python -X importtime`` says which imaging libraries (pyvips and its
  libvips binding, Pillow) the handler import, the cold GET and the cold rendition read load:
  reads should load none;
- references in the same run: ``python -c pass`` (the interpreter and site-packages alone) and
  the import of ``image_service.lambda_handler`` alone; the same ``GET /health`` with no usable
  ``.pyc`` (``PYTHONPYCACHEPREFIX`` at an empty folder, writes off): what a deployment package
  built without ``__pycache__`` pays on Lambda's read-only ``/var/task``; and with the normal
  interpreter teardown at exit, which Lambda does not pay per request (the probe skips it);
- the artifact Lambda runs, in the same rounds: the zip ``build_lambda_package`` makes for this
  machine, unzipped, run by a new venv of Python 3.12 with nothing installed and ``PYTHONPATH``
  at the unzipped zip alone (the same two events, its ``python -c pass`` and its handler import).

Wall time per process from ``hyperfine`` (Debian's, installed with apt-get as root when missing;
else a subprocess timer): one warm-up round, then ``RUNS`` rounds of one run of every command
(interleaved, so load from other sessions falls on all of them alike), median reported; the OS
file cache is warm, as it is for every cold start but the first on a Lambda host. A breakdown from inside the
process (``--timings``: import, first answer, second answer) and ``python -X importtime`` (the
ten largest cumulative imports, and self time summed per top-level package; medians over
``RUNS // 2`` runs per module) say where it goes, and a fresh process times the SDK's import and
the two clients a GET makes: as ``AwsClients`` makes them (botocore, one session, orjson for the
model files), and with boto3 for reference, each in a Session of its own, and the S3 one again in
a Session that already made a DynamoDB client (what sharing one Session saves).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.aws_common import aws_versions, clients_for, emulators
from benchmarks.bench_requests import settings_for
from benchmarks.common import ROOT, Config, Result, Table, Target, find_tool, median, ms, noisy_jpeg, temp_dir
from image_service.bootstrap import aws_context
from image_service.deploy.package import PackageError, build_lambda_package, find_python
from image_service.deploy.targets import Arch
from image_service.domain.models import ADMIN
from image_service.services.uploads import UploadDraft, upload_images

NAME = "coldstart"
RUNS, QUICK_RUNS = 10, 3
TARGET_S = 0.8
# Issue 14: a cold GET /images/{id} at most this (0.446 s before it, on this machine).
TARGET_GET_S = 0.35
PROBE = ROOT / "benchmarks" / "lambda_probe.py"
IMPORT_ONLY = "import os, image_service.lambda_handler; os._exit(0)"
IMPORT_NO_GC = "import gc, os; gc.disable(); import image_service.lambda_handler; os._exit(0)"
IMPORT_FASTAPI = "import os, fastapi; os._exit(0)"
IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
LAMBDA_PYTHON = "3.12"
PACKAGED = f"packaged zip, Python {LAMBDA_PYTHON}"
LAMBDA_FLOOR = f"{PACKAGED}: python -c pass (interpreter floor)"
# The machine names Python reports, as Lambda names the architecture.
LAMBDA_ARCHES: dict[str, Arch] = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
# A stored rendition (the warm-up round makes it): a read, which must not load libvips either.
RENDITION_LABEL = "GET /images/{id}/content?w=256 (stored)"
# The imaging libraries a cold start should not load for a read (only renditions and uploads do).
IMAGING_MODULES = ("pyvips", "_libvips", "PIL")
# The probes whose own timings are reported (the keys of details["inside"]), and their rows.
INSIDE_LABELS = {
    "health": "GET /health",
    "get": "GET /images/{id}",
    "rendition": RENDITION_LABEL,
    "packaged-health": f"{PACKAGED}: GET /health",
    "packaged-get": f"{PACKAGED}: GET /images/{{id}}",
}
# Run once by the packaged interpreter with the probe's folder first on sys.path, where running the
# probe by path puts it: the handler, and every module a cold GET loads, must come from the artifact
# (argv[3]) or the standard library, not from the repository or this machine's site-packages.
ISOLATION = """
import json, sys
sys.path[0] = sys.argv[1]
import image_service.lambda_handler as lambda_handler
with open(sys.argv[2]) as event:
    assert lambda_handler.handler(json.load(event), None)["statusCode"] == 200
elsewhere = sorted(
    name for name, module in list(sys.modules.items())
    if (path := getattr(module, "__file__", None)) and not path.startswith((sys.argv[3], sys.base_prefix))
)
print(json.dumps({"handler": lambda_handler.__file__, "elsewhere": elsewhere}))
"""


def api_gateway_v2(path: str, query: str = "") -> dict[str, Any]:
    """A minimal HTTP API (payload 2.0) event for a GET, as API Gateway sends it."""
    host = "abc123.execute-api.us-east-1.amazonaws.com"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": host, "accept": "application/json", "user-agent": "bench",
                    "x-forwarded-proto": "https"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": host, "domainPrefix": "abc123",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9",
                     "userAgent": "bench"},
            "requestId": "bench", "routeKey": "$default", "stage": "$default",
            "time": "22/Nov/2026:01:00:00 +0000", "timeEpoch": 1795309200000,
        },
        "isBase64Encoded": False,
    }  # fmt: skip


def ensure_hyperfine(log: Callable[[str], None]) -> str | None:
    found = find_tool("hyperfine")
    if found or os.geteuid() != 0:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "install", "-y", "-qq", "hyperfine"], ["apt-get", "update", "-qq"]):
        log(f"  {' '.join(step[:2])} hyperfine")
        subprocess.run(step, env=env, capture_output=True, timeout=600, check=False)
        if step[1] == "update":
            subprocess.run(["apt-get", "install", "-y", "-qq", "hyperfine"], env=env, capture_output=True,
                           timeout=600, check=False)  # fmt: skip
        if found := find_tool("hyperfine"):
            return found
    return None


@dataclass
class Series:
    label: str
    command: list[str]
    env: dict[str, str]
    times: list[float]


def time_once(hyperfine: str | None, command: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall seconds of one run of ``command``: measured by hyperfine, else around subprocess.run."""
    if hyperfine is not None:
        export = cwd / "hyperfine.json"
        subprocess.run(
            [hyperfine, "-N", "--runs", "1", "--export-json", str(export), "--style", "none",
             shlex.join(command)],
            env=env, cwd=cwd, capture_output=True, check=True, timeout=120,
        )  # fmt: skip
        return float(json.loads(export.read_text())["results"][0]["times"][0])
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=True, timeout=120)
    return time.perf_counter() - started


def time_commands(
    hyperfine: str | None, commands: list[tuple[str, list[str], dict[str, str]]], runs: int, cwd: Path
) -> list[Series]:
    """Wall seconds per run of each command, in rounds (one run of every command per round, after
    one warm-up round), so that a change in the machine's load falls on every command alike."""
    series = [Series(label, command, env, []) for label, command, env in commands]
    for item in series:
        time_once(hyperfine, item.command, item.env, cwd)
    for record in cwd.glob("*.jsonl"):
        record.unlink()  # the probes' own timings: keep the timed rounds only
    for _ in range(runs):
        for item in series:
            item.times.append(time_once(hyperfine, item.command, item.env, cwd))
    return series


def recorded(path: Path) -> dict[str, float]:
    """Median seconds of what the probe recorded in the timed runs."""
    runs = [json.loads(line) for line in path.read_text().splitlines()]
    return {key: median([run[key] for run in runs]) for key in runs[0]}


def breakdown(command: list[str], env: dict[str, str], cwd: Path, runs: int) -> dict[str, float]:
    """Median seconds of the probe's own --timings (import, first answer, second answer)."""
    samples: defaultdict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        done = subprocess.run([*command, "--timings"], env=env, cwd=cwd, capture_output=True, text=True,
                              check=True, timeout=120)  # fmt: skip
        for key, value in json.loads(done.stdout).items():
            samples[key].append(float(value))
    return {key: median(values) for key, values in samples.items()}


def importtime(args: list[str], env: dict[str, str], cwd: Path, runs: int) -> list[tuple[str, int, int, int]]:
    """(module, self us, cumulative us, depth) for every import ``python -X importtime`` reports,
    the times being medians over ``runs`` processes (the order and depth are those of the last)."""
    samples: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
    order: list[tuple[str, int]] = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", *args], env=env, cwd=cwd,
                              capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
        order = []
        for line in done.stderr.splitlines():
            match = IMPORTTIME.match(line)
            if match:
                samples[match[4]].append((int(match[1]), int(match[2])))
                order.append((match[4], len(match[3]) // 2))
    return [
        (
            module,
            int(median([s for s, _ in samples[module]])),
            int(median([c for _, c in samples[module]])),
            depth,
        )
        for module, depth in order
    ]


BOTO3_COSTS = """
import json, sys, time
t0 = time.perf_counter()
if sys.argv[1] == "service":
    from image_service.aws.clients import AwsClients, AwsConfig
    clients = AwsClients(AwsConfig(region="us-east-1"))
    clients.region  # imports botocore, makes the session
    t1 = time.perf_counter()
    clients.dynamodb
    t2 = time.perf_counter()
    clients.s3
    t3 = time.perf_counter()
    print(json.dumps({"service: import botocore + session": t1 - t0,
                      "service: DynamoDB client": t2 - t1, "service: S3 client, same session": t3 - t2}))
else:
    import boto3
    t1 = time.perf_counter()
    boto3.session.Session().client("dynamodb", region_name="us-east-1")
    t2 = time.perf_counter()
    boto3.session.Session().client("s3", region_name="us-east-1")
    t3 = time.perf_counter()
    shared = boto3.session.Session()
    shared.client("dynamodb", region_name="us-east-1")
    t4 = time.perf_counter()
    shared.client("s3", region_name="us-east-1")
    t5 = time.perf_counter()
    print(json.dumps({"boto3: import boto3": t1 - t0, "boto3: DynamoDB client, own Session": t2 - t1,
                      "boto3: S3 client, own Session": t3 - t2,
                      "boto3: S3 client, Session shared with DynamoDB": t5 - t4}))
"""


def boto3_costs(env: dict[str, str], cwd: Path, runs: int) -> dict[str, float]:
    """Median seconds, in a fresh process, to import the AWS SDK and make the clients a GET needs:
    as the service makes them (aws/clients.py: botocore alone, one session, model files read with
    orjson), and with plain boto3 for reference, the first clients each in a new Session, then an
    S3 client in a Session that already made a DynamoDB client (endpoint and partition data
    loaded)."""
    samples: defaultdict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        for way in ("service", "boto3"):
            done = subprocess.run([sys.executable, "-c", BOTO3_COSTS, way], env=env, cwd=cwd,
                                  capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
            for key, value in json.loads(done.stdout).items():
                samples[key].append(float(value))
    return {key: median(values) for key, values in samples.items()}


def packaged(
    work: Path, env: dict[str, str], event: Path, log: Callable[[str], None]
) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """The Lambda zip for this machine, unzipped, and a new venv of Lambda's Python with nothing
    installed: its interpreter, its environment (``PYTHONPATH`` at the zip's contents alone), and
    facts for the results, once the probe's imports are checked (ISOLATION)."""
    arch = LAMBDA_ARCHES[platform.machine().lower()]
    report = build_lambda_package(work / "package", arch=arch, python_version=LAMBDA_PYTHON)
    log(f"  built {report.zip_path.name} in {report.seconds:.0f} s")
    task_root = work / "task"
    with zipfile.ZipFile(report.zip_path) as archive:
        archive.extractall(task_root)
    venv = work / "venv-lambda"
    subprocess.run([str(find_python(LAMBDA_PYTHON)), "-m", "venv", "--without-pip", str(venv)],
                   check=True, timeout=60)  # fmt: skip
    python = [str(venv / "bin" / "python")]
    # Lambda's /var/task is read-only: a module the zip holds no bytecode for is compiled on every
    # cold start there, so none is cached here either.
    lambda_env = {**env, "PYTHONPATH": str(task_root), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([*python, "-c", ISOLATION, str(PROBE.parent), str(event), f"{task_root}{os.sep}"],
                          env=lambda_env, cwd=work, capture_output=True, text=True, check=True,
                          timeout=120)  # fmt: skip
    loaded = json.loads(done.stdout)
    if not loaded["handler"].startswith(f"{task_root}{os.sep}") or loaded["elsewhere"]:
        raise RuntimeError(f"the packaged probe imports from outside the artifact: {loaded}")
    version = subprocess.run([*python, "--version"], capture_output=True, text=True, check=True)
    facts = {
        "zip": report.zip_path.name,
        "zipped_bytes": report.zipped_bytes,
        "unzipped_bytes": report.unzipped_bytes,
        "build_seconds": report.seconds,
        "python": version.stdout.strip(),
        "handler_file": loaded["handler"],
    }
    return python, lambda_env, facts


def run(cfg: Config, log: Callable[[str], None] = print) -> Result:
    result = Result(NAME)
    runs = QUICK_RUNS if cfg.quick else RUNS
    hyperfine = ensure_hyperfine(log)
    versions = aws_versions()
    if hyperfine:
        versions["hyperfine"] = subprocess.run([hyperfine, "--version"], capture_output=True, text=True,
                                               check=False).stdout.strip()  # fmt: skip
    with temp_dir(NAME) as tmp, emulators(Path(tmp), log) as emu:
        work = Path(tmp)
        ctx = aws_context(settings_for(emu.env()), clients_for(emu))
        (image,) = upload_images(ctx, ADMIN, [UploadDraft(noisy_jpeg(50_000), user_id="alice")])
        events = {
            "health": api_gateway_v2("/health"),
            "get": api_gateway_v2(f"/images/{image.image_id}"),
            "rendition": api_gateway_v2(f"/images/{image.image_id}/content", "w=256"),
        }
        for name, event in events.items():
            (work / f"{name}.json").write_text(json.dumps(event))
        env = {**_clean(os.environ), **emu.env(), "IMAGE_SERVICE_AUTH": "api-key"}
        no_pyc = work / "empty-pycache"
        no_pyc.mkdir()
        env_no_pyc = {**env, "PYTHONPYCACHEPREFIX": str(no_pyc), "PYTHONDONTWRITEBYTECODE": "1"}
        python = sys.executable
        probe = [python, str(PROBE)]
        health, get = str(work / "health.json"), str(work / "get.json")
        rendition = str(work / "rendition.json")
        timer = "hyperfine" if hyperfine else "a subprocess timer"
        probes = {
            "health": ([*probe, health], env),
            "get": ([*probe, get], env),
            "rendition": ([*probe, rendition], env),
        }
        commands = [
            ("python -c pass (interpreter floor)", [python, "-c", "pass"], env),
            ("import fastapi only (the framework)", [python, "-c", IMPORT_FASTAPI], env),
            ("import the handler only", [python, "-c", IMPORT_ONLY], env),
            ("import the handler, GC off while importing", [python, "-c", IMPORT_NO_GC], env),
            ("cold start + GET /health", [*probe, health, "--record", str(work / "health.jsonl")], env),
            ("cold start + GET /images/{id}", [*probe, get, "--record", str(work / "get.jsonl")], env),
            ("cold start + GET /health, no .pyc", [*probe, health], env_no_pyc),
            ("cold start + GET /health + teardown", [*probe, health, "--teardown"], env),
            (f"cold start + {RENDITION_LABEL}",
             [*probe, rendition, "--record", str(work / "rendition.jsonl")], env),
        ]  # fmt: skip
        try:
            lambda_python, lambda_env, lambda_facts = packaged(work, env, Path(get), log)
        except PackageError as exc:  # no Python 3.12 here, or the zip cannot be built
            log(f"  no {PACKAGED} rows: {exc}")
            lambda_facts = {"skipped": str(exc)}
        else:
            lambda_probe = [*lambda_python, str(PROBE)]
            commands += [
                (LAMBDA_FLOOR, [*lambda_python, "-c", "pass"], lambda_env),
                (f"{PACKAGED}: import the handler only", [*lambda_python, "-c", IMPORT_ONLY], lambda_env),
                (f"{PACKAGED}: cold start + GET /health",
                 [*lambda_probe, health, "--record", str(work / "packaged-health.jsonl")], lambda_env),
                (f"{PACKAGED}: cold start + GET /images/{{id}}",
                 [*lambda_probe, get, "--record", str(work / "packaged-get.jsonl")], lambda_env),
            ]  # fmt: skip
            probes |= {"packaged-health": ([*lambda_probe, health], lambda_env),
                       "packaged-get": ([*lambda_probe, get], lambda_env)}  # fmt: skip
        log(f"  timing {runs} fresh processes per command ({timer})")
        series = time_commands(hyperfine, commands, runs, work)
        log("  warm answers, importtime, boto3")
        inside = {name: recorded(work / f"{name}.jsonl") for name in probes}
        for name, (command, probe_env) in probes.items():
            inside[name]["second"] = breakdown(command, probe_env, work, runs)["second"]
        sampled = max(3, runs // 2)
        imports = importtime(["-c", IMPORT_ONLY], env, work, sampled)
        imports_get = importtime([str(PROBE), get], env, work, sampled)
        imports_rendition = importtime([str(PROBE), rendition], env, work, sampled)
        boto = boto3_costs(env, work, sampled)
    result.details.update(
        versions=versions,
        runs=runs,
        timer="hyperfine -N --runs 1 per run, interleaved rounds"
        if hyperfine
        else "subprocess.run, interleaved",
        series={s.label: {"command": " ".join(s.command), "seconds": s.times} for s in series},
        inside=inside,
        packaged=lambda_facts,
        boto3=boto,
        # (module, self us, cumulative us, depth), medians, in import order
        importtime_handler=imports,
        importtime_cold_get=imports_get,
        importtime_cold_rendition=imports_rendition,
    )
    result.tables, result.targets = _report(series, inside, imports, imports_get, boto)
    result.tables[-1].notes.append(
        "imaging libraries ("
        + ", ".join(IMAGING_MODULES)
        + ") loaded by: the handler import "
        + _imaging(imports)
        + "; a cold GET /images/{id} "
        + _imaging(imports_get)
        + f"; a cold {RENDITION_LABEL} "
        + _imaging(imports_rendition)
    )
    return result


def _clean(environ: os._Environ[str]) -> dict[str, str]:
    """The bench's environment without settings that would change the service under test."""
    return {
        k: v
        for k, v in environ.items()
        if not k.startswith(("IMAGE_SERVICE_", "AWS_", "PYTHON")) and k not in ("BUCKET_NAME", "TABLE_NAME")
    }


def _imaging(rows: list[tuple[str, int, int, int]]) -> str:
    """Which IMAGING_MODULES an importtime list holds, with their cumulative ms; "none" if none."""
    loaded = [(module, cumulative) for module, _, cumulative, _ in rows if module in IMAGING_MODULES]
    return ", ".join(f"{module} ({cumulative / 1000:.0f} ms)" for module, cumulative in loaded) or "none"


def _by_package(rows: list[tuple[str, int, int, int]]) -> list[tuple[str, int]]:
    totals: defaultdict[str, int] = defaultdict(int)
    for module, self_us, _, _ in rows:
        totals[module.split(".")[0]] += self_us
    return sorted(totals.items(), key=lambda kv: -kv[1])


def _report(
    series: list[Series],
    inside: dict[str, dict[str, float]],
    imports: list[tuple[str, int, int, int]],
    imports_get: list[tuple[str, int, int, int]],
    boto: dict[str, float],
) -> tuple[list[Table], list[Target]]:
    medians = {s.label: median(s.times) for s in series}
    floor = median(series[0].times)
    lambda_floor = medians.get(LAMBDA_FLOOR, floor)
    wall = Table(
        "Cold start: one fresh process per run (wall seconds)",
        ["command", "runs", "median", "min", "max", "stdev", "minus interpreter floor"],
    )
    for s in series:
        spread = statistics.stdev(s.times) if len(s.times) > 1 else float("nan")
        wall.add(
            s.label,
            len(s.times),
            median(s.times),
            min(s.times),
            max(s.times),
            spread,
            median(s.times) - (lambda_floor if s.label.startswith(PACKAGED) else floor),
        )
    wall.notes.append(
        "wall time of a fresh process from exec to the answer (interpreter start, imports, one request; "
        "then os._exit, as Lambda freezes rather than tears down; the teardown row exits normally); "
        "the file cache is warm; other sessions share the 2 cores: see the load average"
    )
    ratios = [
        f"{event} {medians[f'{PACKAGED}: cold start + {event}'] / medians[f'cold start + {event}']:.2f}"
        for event in ("GET /health", "GET /images/{id}")
        if f"{PACKAGED}: cold start + {event}" in medians
    ]
    if ratios:
        wall.notes.append(
            f"{PACKAGED}: the artifact Lambda runs (what `make package` builds, for this machine), with "
            "its own interpreter floor subtracted; median wall, packaged / development install: "
            + ", ".join(ratios)
        )
    parts = Table(
        "Inside the process (median ms; import and first answer from the timed runs above)",
        ["event", "import handler", "first answer", "second answer (warm)"],
    )
    for name, values in inside.items():
        parts.add(INSIDE_LABELS[name], ms(values["import"]), ms(values["first"]), ms(values["second"]))
    parts.notes.append(
        "fresh process, the AWS SDK alone: "
        + ", ".join(f"{key} {ms(value):.0f} ms" for key, value in boto.items())
    )
    top = Table(
        "python -X importtime -c 'import image_service.lambda_handler': the ten largest cumulative imports",
        ["module", "cumulative ms", "self ms"],
    )
    for module, self_us, cumulative_us, depth in sorted(imports, key=lambda r: -r[2])[:10]:
        top.add("  " * depth + module, cumulative_us / 1000, self_us / 1000)
    packages = Table(
        "Self import time summed per top-level package (ms): the handler import, and a cold GET /images/{id}",
        ["package", "import handler", "cold GET /images/{id}"],
    )
    handler_totals, get_totals = dict(_by_package(imports)), dict(_by_package(imports_get))
    shown = sorted(
        {*list(handler_totals)[:12], *list(get_totals)[:12]},
        key=lambda package: -max(handler_totals.get(package, 0), get_totals.get(package, 0)),
    )
    for package in shown:
        packages.add(package, handler_totals.get(package, 0) / 1000, get_totals.get(package, 0) / 1000)
    packages.notes.append(
        f"all imports: {sum(r[1] for r in imports) / 1000:.0f} ms for the handler, "
        f"{sum(r[1] for r in imports_get) / 1000:.0f} ms for a cold GET /images/{{id}} "
        "(importtime's own overhead included)"
    )
    parts.notes.append(
        "the GET's first answer includes importing boto3 and making its DynamoDB and S3 clients"
    )
    health = median(series[4].times)
    get = median(series[5].times)
    targets = [
        Target(
            "cold start + GET /health, median wall", f"< {TARGET_S} s", f"{health:.2f} s", health < TARGET_S
        ),
        Target(
            "cold start + GET /images/{id}, median wall", f"< {TARGET_S} s", f"{get:.2f} s", get < TARGET_S
        ),
        Target(
            "cold start + GET /images/{id}, median wall (issue 14)",
            f"<= {TARGET_GET_S} s",
            f"{get:.2f} s",
            get <= TARGET_GET_S,
        ),
    ]
    return [wall, parts, top, packages], targets
