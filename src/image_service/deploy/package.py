"""The Lambda artifact: the service and its runtime dependencies in one zip, for Lambda's machine
and Python rather than this one's.

``build_lambda_package`` works in a scratch directory:

1. ``pip install --target`` of ``[project].dependencies`` less ``NOT_ON_LAMBDA``, from manylinux
   wheels for the target (``--platform``, ``--python-version``, wheels only), constrained to the
   versions installed here (``tested_versions``: the ones the tests ran), then of the project
   itself without dependencies. The few pure-Python dependencies published as a source archive
   only (``SOURCE_ONLY``) are built into wheels here first (``build_pure_wheels``);
2. removes what the function never loads (``BOTOCORE_SERVICES``, ``UNUSED``);
3. checks that every compiled file is for the target machine and Python (``check_extensions``):
   pip installs a wheel for the wrong platform without a word, and it fails only at import;
4. compiles bytecode with an interpreter of the target version (``find_python``): without it a
   cold start takes ~1.6 s instead of ~0.43 s, and Lambda's /var/task is read-only, so the
   runtime cannot cache what it compiles;
5. writes a reproducible zip and checks its sizes against ``ZIPPED_BUDGET`` and
   ``UNZIPPED_BUDGET``, well under Lambda's limits, so that growth is noticed before a deploy
   fails.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from image_service.deploy.archive import write_zip
from image_service.deploy.targets import TARGETS, Arch, PlatformMismatch, Target, check_extensions

# The server (uvicorn) and the CLI (typer, rich): only `image-service serve` and the commands import
# them. Nothing on the Lambda path (lambda_handler, lambda_app, api, bootstrap, services, adapters,
# aws) does, and tests/package runs the artifact without them.
NOT_ON_LAMBDA = frozenset({"uvicorn", "typer", "rich", "httpx"})

# The services AwsClients makes clients for; botocore's and boto3's models of the other ~400 are
# most of the artifact and never read. No STS: Lambda gives the function its role's credentials in
# the environment, and botocore calls STS only for assume-role and web-identity profiles.
BOTOCORE_SERVICES = frozenset({"s3", "dynamodb", "secretsmanager"})
# Dependencies that PyPI has as a source archive only, and that are pure Python: pyvips 3 (its
# compiled half, libvips and the _libvips binding, is pyvips-binary's manylinux wheel). pip cannot
# build a source archive for another platform, so each is built into a wheel on this machine first,
# and that wheel must come out pure (``py3-none-any``): a compiled one would be for this machine,
# and linked against its libraries.
SOURCE_ONLY = frozenset({"pyvips"})
PURE_WHEEL_SUFFIX = "-none-any.whl"

# Console scripts, whose shebangs name the build machine's Python, any bytecode a wheel ships
# (for whichever Python built it; the target's is compiled after trimming), and the development
# tools (the emulator runner), which only the CLI's `emulate` and the tests import.
UNUSED = ("bin", "**/__pycache__", "image_service/devtools")

# What setuptools reads to build the project's wheel, copied to scratch first: an in-tree build
# leaves build/lib behind, and a module deleted from src/ would live on there into the next zip.
PROJECT_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "src")

MB = 1024 * 1024
# Lambda refuses a direct upload over 50 MB zipped and any function over 250 MB unzipped.
LAMBDA_ZIPPED_LIMIT = 50 * MB
LAMBDA_UNZIPPED_LIMIT = 250 * MB
# Ours, well under those: crossing them means a dependency grew, and that wants a look first.
ZIPPED_BUDGET = 40 * MB
UNZIPPED_BUDGET = 150 * MB

# Where Lambda unzips the function.
LAMBDA_TASK_ROOT = "/var/task"

PROJECT_DIR = Path(__file__).resolve().parents[3]


class PackageError(RuntimeError):
    """The artifact could not be built, or came out wrong for Lambda."""


@dataclass(frozen=True)
class PackageReport:
    zip_path: Path
    arch: Arch
    python_version: str
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    trimmed_bytes: int  # what the trimming removed, unzipped
    extensions: int  # ELF files checked for the target
    largest: list[tuple[str, int]]  # top-level entries by unzipped size, largest first
    seconds: float

    def summary(self) -> str:
        largest = ", ".join(f"{name} {size / MB:.1f}" for name, size in self.largest[:5])
        return (
            f"{self.zip_path}: {self.zipped_bytes / MB:.1f} MB zipped (budget {ZIPPED_BUDGET / MB:.0f}, "
            f"Lambda {LAMBDA_ZIPPED_LIMIT / MB:.0f}), {self.unzipped_bytes / MB:.1f} MB unzipped (budget "
            f"{UNZIPPED_BUDGET / MB:.0f}, Lambda {LAMBDA_UNZIPPED_LIMIT / MB:.0f}), {self.files} files, "
            f"{self.trimmed_bytes / MB:.1f} MB trimmed; largest (MB): {largest}"
        )


def build_lambda_package(
    out_dir: Path, *, arch: Arch = "arm64", python_version: str = "3.12", project_dir: Path = PROJECT_DIR
) -> PackageReport:
    """Build ``out_dir/image-service-lambda-<arch>-py<version>.zip``; raises PackageError if it
    cannot, or if the result is for the wrong platform or over budget."""
    started = time.monotonic()
    if arch not in TARGETS:
        raise PackageError(f"unknown architecture {arch!r}: one of {', '.join(get_args(Arch))}")
    if not (project_dir / "pyproject.toml").is_file():
        raise PackageError(f"{project_dir} has no pyproject.toml: package from a checkout of the project")
    python = find_python(python_version)  # before the slow part
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"image-service-lambda-{arch}-py{python_version}.zip"
    with tempfile.TemporaryDirectory(prefix="image-service-package-") as scratch:
        staging = Path(scratch) / "staging"
        install(staging, Path(scratch) / "project", project_dir, TARGETS[arch], python_version)
        trimmed = trim(staging)
        try:
            extensions = check_extensions(staging, TARGETS[arch], python_version)
        except PlatformMismatch as exc:
            raise PackageError(str(exc)) from None
        compile_bytecode(python, staging)
        # Written beside its final name and renamed, so a failed build never leaves half a zip
        # where a deploy would pick it up.
        partial = path.with_name(f".{path.name}.partial")
        try:
            write_zip(staging, partial)
            sizes = _sizes(staging)
            report = PackageReport(
                zip_path=path,
                arch=arch,
                python_version=python_version,
                zipped_bytes=partial.stat().st_size,
                unzipped_bytes=sum(size for _, size in sizes),
                files=len(sizes),
                trimmed_bytes=trimmed,
                extensions=extensions,
                largest=_largest(staging, sizes),
                seconds=time.monotonic() - started,
            )
            check_budget(report)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return report


def runtime_requirements(project_dir: Path) -> list[str]:
    """``[project].dependencies`` as written, less the ones the Lambda never imports."""
    with (project_dir / "pyproject.toml").open("rb") as handle:
        dependencies: list[str] = tomllib.load(handle)["project"].get("dependencies", [])
    return [r for r in dependencies if _distribution(r) not in NOT_ON_LAMBDA]


def _distribution(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise PackageError(f"cannot read the requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()  # PEP 503 normalised


def tested_versions() -> list[str]:
    """``name==version`` of every distribution in the running environment: used as pip
    constraints, so the package holds the versions the tests ran with, not whatever is newest."""
    pins = {
        _distribution(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }
    pins.pop("image-service", None)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def install(staging: Path, scratch: Path, project_dir: Path, target: Target, python_version: str) -> None:
    platforms = [option for platform in target.platforms for option in ("--platform", platform)]
    constraints = staging.parent / "constraints.txt"
    constraints.write_text("\n".join(tested_versions()) + "\n")
    requirements = runtime_requirements(project_dir)
    wheelhouse = staging.parent / "wheelhouse"
    build_pure_wheels(wheelhouse, constraints, [r for r in requirements if _distribution(r) in SOURCE_ONLY])
    _pip(
        "install", "--target", str(staging), *platforms, "--implementation", "cp",
        "--constraint", str(constraints), "--find-links", str(wheelhouse),
        "--python-version", python_version, "--only-binary=:all:", *requirements,
    )  # fmt: skip
    scratch.mkdir()
    for name in PROJECT_SOURCES:
        source = project_dir / name
        if source.is_dir():
            shutil.copytree(
                source, scratch / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        elif source.is_file():
            shutil.copy2(source, scratch / name)
    # Pure Python: the wheel built here is the one Lambda needs. Its dependencies are installed
    # above, for the target.
    _pip("install", "--target", str(staging), "--no-deps", str(scratch))
    _forget_source(staging)


def build_pure_wheels(wheelhouse: Path, constraints: Path, requirements: list[str]) -> None:
    """Wheels of the ``SOURCE_ONLY`` ``requirements``, built from their source archives at the
    constrained versions into ``wheelhouse``, where the cross-platform install finds them; raises
    PackageError if one comes out compiled."""
    wheelhouse.mkdir(exist_ok=True)
    if not requirements:
        return
    names = ",".join(sorted({_distribution(r) for r in requirements}))
    _pip("wheel", "--no-deps", "--no-binary", names, "--constraint", str(constraints),
         "--wheel-dir", str(wheelhouse), *requirements)  # fmt: skip
    compiled = sorted(p.name for p in wheelhouse.glob("*.whl") if not p.name.endswith(PURE_WHEEL_SUFFIX))
    if compiled:
        raise PackageError(
            f"{', '.join(compiled)}: built compiled, for this machine, from a source archive that should "
            "give pure Python; Lambda needs a wheel for its platform"
        )


def _forget_source(staging: Path) -> None:
    """pip records where it installed the project from (PEP 610's direct_url.json, listed in
    RECORD): the scratch directory, whose name is new on every build. Nothing on Lambda reads it."""
    for direct_url in staging.glob("*.dist-info/direct_url.json"):
        record = direct_url.with_name("RECORD")
        entry = f"{direct_url.parent.name}/{direct_url.name},"
        lines = record.read_text().splitlines(keepends=True)
        record.write_text("".join(line for line in lines if not line.startswith(entry)))
        direct_url.unlink()


def _pip(command: str, *args: str) -> None:
    # install --no-compile: bytecode for this interpreter's version, which Lambda's would not use.
    options = ["--no-compile"] if command == "install" else []
    full = [sys.executable, "-m", "pip", command, "--quiet", *options, *args]
    result = subprocess.run(full, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise PackageError(f"pip {command} failed ({' '.join(args[-3:])} ...):\n{result.stderr[-3000:]}")


def trim(staging: Path) -> int:
    """Remove what the function never loads; the bytes removed."""
    doomed = [p for pattern in UNUSED for p in staging.glob(pattern)]
    for models in (staging / "botocore" / "data", staging / "boto3" / "data"):
        if models.is_dir():
            # Services are directories; the files beside them (endpoints.json, partitions.json,
            # _retry.json, sdk-default-configuration.json) are read by every client.
            doomed += [p for p in models.iterdir() if p.is_dir() and p.name not in BOTOCORE_SERVICES]
    removed = 0
    for path in doomed:
        if path.is_dir():
            removed += sum(size for _, size in _sizes(path))
            shutil.rmtree(path)
        elif path.exists():
            removed += path.stat().st_size
            path.unlink()
    return removed


def find_python(version: str) -> Path:
    """An interpreter of ``version`` ("3.12") to compile bytecode with: this one if it is that
    version, else ``python<version>`` on PATH, else pyenv's newest ``<version>.x``. Each is run
    once to be sure, as a pyenv shim exists on PATH whether or not it can run that version."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [
        *([sys.executable] if f"{sys.version_info[0]}.{sys.version_info[1]}" == version else []),
        *filter(None, [shutil.which(f"python{version}")]),
        *sorted((str(p) for p in pyenv.glob(f"{version}.*/bin/python{version}")), key=_patch, reverse=True),
    ]
    for candidate in candidates:
        try:
            result = subprocess.run(  # noqa: S603 - an interpreter path we found ourselves
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
        except OSError:
            continue
        if result.returncode == 0 and result.stdout.strip() == version:
            return Path(candidate)
    raise PackageError(
        f"no Python {version} found (python{version} on PATH, {pyenv}/{version}.*): the bytecode must "
        f"be compiled by the Python that Lambda runs, so install one (e.g. `pyenv install {version}`)"
    )


def _patch(path: str) -> int:
    match = re.search(r"/\d+\.\d+\.(\d+)[^/]*/bin/", path)
    return int(match.group(1)) if match else -1


def compile_bytecode(python: Path, staging: Path) -> None:
    # Unchecked hashes: the runtime loads the .pyc without comparing it with the source. Timestamp
    # .pyc would not do: unzipping resets every mtime, so each would look stale to the runtime,
    # which would recompile it on every cold start (it cannot write /var/task). -d names the files
    # where Lambda puts them, not in this build's scratch directory, whose random name would make
    # every .pyc differ from one build to the next. One process (-j 1), not a pool: marshal marks
    # a string it has seen by its reference count, which depends on what else that process has
    # compiled, so files dealt out to workers gave a different pycparser/c_parser .pyc now and then;
    # one process compiles the same sorted files in the same order every time (~2 s here, 0.7 s more).
    command = [str(python), "-m", "compileall", "-q", "-j", "1", "--invalidation-mode", "unchecked-hash",
               "-d", LAMBDA_TASK_ROOT, str(staging)]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # set and frozenset constants in one order too
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise PackageError(f"compileall failed with {python}:\n{(result.stdout + result.stderr)[-3000:]}")


def check_budget(report: PackageReport) -> None:
    over = [
        f"{label} {size / MB:.1f} MB > {budget / MB:.0f} MB (Lambda's limit: {limit / MB:.0f} MB)"
        for label, size, budget, limit in (
            ("zipped", report.zipped_bytes, ZIPPED_BUDGET, LAMBDA_ZIPPED_LIMIT),
            ("unzipped", report.unzipped_bytes, UNZIPPED_BUDGET, LAMBDA_UNZIPPED_LIMIT),
        )
        if size > budget
    ]
    if over:
        biggest = ", ".join(f"{name} {size / MB:.1f} MB" for name, size in report.largest[:5])
        raise PackageError(f"the artifact is over budget: {'; '.join(over)}. Largest: {biggest}")


def _sizes(root: Path) -> list[tuple[Path, int]]:
    return [(p, p.stat().st_size) for p in root.rglob("*") if p.is_file()]


def _largest(staging: Path, sizes: list[tuple[Path, int]], count: int = 8) -> list[tuple[str, int]]:
    totals: dict[str, int] = {}
    for path, size in sizes:
        top = path.relative_to(staging).parts[0]
        totals[top] = totals.get(top, 0) + size
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:count]
