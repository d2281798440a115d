"""`image-service package`: the Lambda zip (deploy/package.py), with its sizes against the limits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from image_service.cli.errors import err, fail
from image_service.deploy.targets import Arch


def package_command(
    arch: Annotated[Arch, typer.Option(help="The function's architecture")] = "arm64",
    python: Annotated[str, typer.Option("--python", help="The function's Python runtime")] = "3.12",
    out: Annotated[Path, typer.Option(help="Directory to write the zip to")] = Path("build"),
) -> None:
    """Build the Lambda zip from manylinux wheels for the function's architecture and Python:
    trimmed, precompiled, checked against Lambda's limits. Prints the zip's path last."""
    from image_service.deploy import package

    err.print(f"building the Lambda package for {arch}, Python {python} ...")
    try:
        report = package.build_lambda_package(out, arch=arch, python_version=python)
    except package.PackageError as exc:
        fail(f"cannot package: {exc}", code=1)

    def mb(size: int) -> str:
        return f"{size / package.MB:.1f} MB"

    sizes = Table("", "size", "our budget", "Lambda's limit", title=report.zip_path.name)
    sizes.add_row(
        "zipped", mb(report.zipped_bytes), mb(package.ZIPPED_BUDGET), mb(package.LAMBDA_ZIPPED_LIMIT)
    )
    sizes.add_row(
        "unzipped", mb(report.unzipped_bytes), mb(package.UNZIPPED_BUDGET), mb(package.LAMBDA_UNZIPPED_LIMIT)
    )
    largest = Table("largest top-level entries", "unzipped")
    for name, size in report.largest:
        largest.add_row(name, mb(size))
    console = Console()
    console.print(sizes, largest)
    console.print(
        f"{report.files} files; {report.extensions} compiled files checked for {arch} and Python {python}; "
        f"{mb(report.trimmed_bytes)} trimmed; built in {report.seconds:.1f} s"
    )
    print(report.zip_path)
