"""The artifact, built and unzipped as Lambda unzips it into /var/task, and invoked as Lambda invokes
it: a Python of the runtime's version, with the artifact and the standard library on its path and
nothing else."""

from __future__ import annotations

import json
import platform
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from apigw import Reply, reply_from

from image_service.deploy.package import PackageReport, build_lambda_package
from image_service.deploy.targets import Arch

# The machine names Python reports, as Lambda names the architecture.
LAMBDA_ARCHES: dict[str, Arch] = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
# Only in the server and the CLI: the artifact leaves them out (NOT_ON_LAMBDA).
EXCLUDED_MODULES = ("uvicorn", "typer", "rich", "httpx")

# Run by the bare interpreter: `-I` keeps PYTHONPATH, the user's site-packages and the working
# directory off sys.path, and the venv has no packages, so everything not in the standard library
# must come from the artifact.
INVOKE = """
import json, sys

task_root = sys.argv[1]
sys.path.insert(0, task_root)
import image_service.lambda_handler as lambda_handler

results = [lambda_handler.handler(event, None) for event in json.load(sys.stdin)]
elsewhere = sorted(
    name for name, module in list(sys.modules.items())
    if (path := getattr(module, "__file__", None))
    and not path.startswith((task_root, sys.base_prefix))
)
print(json.dumps({
    "results": results,
    "handler_file": lambda_handler.__file__,
    "elsewhere": elsewhere,
    "excluded": sorted(m for m in sys.modules if m.partition(".")[0] in sys.argv[2].split(",")),
    "loaded": sorted({m.partition(".")[0] for m in sys.modules}),
}))
"""

# The imaging engine, run by the bare interpreter from the artifact alone: the service's
# rendition maker (imaging/render.py) on libvips (pyvips-binary's, through its compiled binding)
# decodes the image on stdin and makes a rendition in each format the rendition route answers
# with. Prints the renditions (base64, with their content types) and which libvips was loaded.
RENDER = """
import base64, json, sys

task_root = sys.argv[1]
sys.path.insert(0, task_root)
import pyvips
from image_service.imaging.render import RenderSpec, render

data = sys.stdin.buffer.read()
renditions = {}
for fmt in sys.argv[2].split(","):
    made = render(data, RenderSpec(width=int(sys.argv[3]), height=None, format=fmt))
    renditions[fmt] = {"content_type": made.content_type, "data": base64.b64encode(made.data).decode()}
with open("/proc/self/maps") as maps:
    mapped = {line.split()[-1] for line in maps}
libvips = sorted(path for path in mapped if path.rpartition("/")[2].startswith("libvips"))
print(json.dumps({
    "renditions": renditions,
    "api_mode": pyvips.API_mode,
    "version": [pyvips.version(0), pyvips.version(1)],
    "pyvips_file": pyvips.__file__,
    "libvips": libvips,
}))
"""


@dataclass(frozen=True)
class Built:
    report: PackageReport
    task_root: Path  # the zip's contents


@dataclass(frozen=True)
class Invocation:
    replies: list[Reply]
    handler_file: str
    elsewhere: list[str]  # modules loaded from neither the artifact nor the standard library
    excluded: list[str]  # EXCLUDED_MODULES that got imported
    loaded: list[str]  # every top-level module imported, the standard library's included


def host_arch() -> Arch:
    machine = platform.machine().lower()
    if machine not in LAMBDA_ARCHES:
        pytest.skip(f"this machine ({machine}) is not one Lambda runs on")
    return LAMBDA_ARCHES[machine]


def build(tmp_path_factory: pytest.TempPathFactory, arch: Arch) -> Built:
    base = tmp_path_factory.mktemp(f"package-{arch}")
    report = build_lambda_package(base / "build", arch=arch)
    task_root = base / "task"
    with zipfile.ZipFile(report.zip_path) as archive:
        archive.extractall(task_root)
    return Built(report, task_root)


def bare_python(target_python: Path, where: Path) -> Path:
    """A new venv of the target Python with nothing installed: its interpreter."""
    subprocess.run([str(target_python), "-m", "venv", "--without-pip", str(where)], check=True, timeout=60)
    return where / "bin" / "python"


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def invoke(
    python: Path, task_root: Path, env: dict[str, str], events: list[dict[str, Any]], home: Path
) -> Invocation:
    """Import the handler from ``task_root`` in a new, isolated interpreter (warnings are errors) and
    call it once per event. HOME is an empty directory, so no AWS config file of this machine's is
    read, and the environment is ``env`` alone."""
    completed = subprocess.run(
        [str(python), "-I", "-W", "error", "-c", INVOKE, str(task_root), ",".join(EXCLUDED_MODULES)],
        input=json.dumps(events),
        env={"HOME": str(home), "LANG": "C.UTF-8", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    output = json.loads(completed.stdout.strip().splitlines()[-1])
    replies = [
        reply_from("v2", event, result) for event, result in zip(events, output["results"], strict=True)
    ]
    return Invocation(
        replies, output["handler_file"], output["elsewhere"], output["excluded"], output["loaded"]
    )


def render(python: Path, task_root: Path, data: bytes, formats: list[str], size: int) -> dict[str, Any]:
    """Renditions of ``data`` in a new, isolated interpreter (warnings are errors) with only the
    artifact on its path: RENDER's output."""
    completed = subprocess.run(
        [str(python), "-I", "-W", "error", "-c", RENDER, str(task_root), ",".join(formats), str(size)],
        input=data,
        env={"LANG": "C.UTF-8"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")[-3000:]
    result: dict[str, Any] = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    return result
