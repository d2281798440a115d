"""`image-service template`, `deploy` and `destroy`: the AWS stack from the command line.

Credentials and the endpoint come from the usual AWS environment (profiles, ``AWS_PROFILE``,
``AWS_ENDPOINT_URL`` for LocalStack), through one boto3 session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from image_service.cli.errors import UserError, fail

Stack = Annotated[str, typer.Option("--stack", help="CloudFormation stack name")]
Region = Annotated[
    str | None, typer.Option("--region", help="AWS region (default: the profile's or $AWS_DEFAULT_REGION)")
]
TemplatePath = Annotated[Path, typer.Option("--template", help="The SAM template")]


def template_command(
    write: Annotated[bool, typer.Option("--write", help="Rewrite the generated blocks")] = False,
    path: TemplatePath = Path("infra/template.yaml"),
) -> None:
    """Check (or, with --write, rewrite) the template's blocks generated from the table definition."""
    from image_service.deploy.template import regenerate

    text = _template(path).read_text()
    current = regenerate(text)
    if current == text:
        print(f"{path} is up to date")
        return
    if write:
        path.write_text(current)
        print(f"rewrote the generated blocks of {path}")
        return
    fail(f"{path} differs from src/image_service/aws/table.py: run `image-service template --write`", code=1)


def _template(path: Path) -> Path:
    # The default path is relative: outside a checkout it names nothing.
    if not path.is_file():
        raise UserError(f"no template at {path}: run this in a checkout of image-service, or pass --template")
    return path


def _session(region: str | None) -> tuple[object, str]:
    import boto3

    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        fail("no region: pass --region or set AWS_DEFAULT_REGION")
    return session, session.region_name


def deploy_command(
    stack: Stack = "image-service",
    region: Region = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", "-p", help="Template parameter as Name=Value (repeatable)"),
    ] = None,
    arch: Annotated[str, typer.Option(help="arm64 | x86_64 (sets the Architecture parameter)")] = "arm64",
    artifact: Annotated[
        Path | None, typer.Option(help="A package built by `image-service package` (default: build one)")
    ] = None,
    artifacts_bucket: Annotated[
        str | None,
        typer.Option(help="Bucket for packages (default: image-service-artifacts-<account>-<region>)"),
    ] = None,
    path: TemplatePath = Path("infra/template.yaml"),
) -> None:
    """Build the Lambda package and create or update the stack (idempotent)."""
    from image_service.deploy.stack import DeployError, Deployment, deploy

    _template(path)  # before the minutes of packaging
    parameters = {"Architecture": arch}
    for item in parameter or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--parameter wants Name=Value, not {item!r}")
        parameters[key] = value
    session, region_name = _session(region)
    if artifact is None:
        artifact = _build(arch)
    deployment = Deployment(stack, region_name, path, parameters, artifacts_bucket)
    try:
        outputs = deploy(session, deployment, artifact)
    except DeployError as exc:
        fail(f"deploy failed: {exc}", code=1)
    for key, value in sorted(outputs.items()):
        print(f"{key}: {value}")
    if secret := outputs.get("SecretArn"):
        print(
            "The admin key (shown by AWS, not here): aws secretsmanager get-secret-value "
            f"--secret-id {secret} --region {region_name} --query SecretString --output text"
        )


def _build(arch: str) -> Path:
    from image_service.deploy.package import build_lambda_package

    report = build_lambda_package(Path("build"), arch=arch)  # type: ignore[arg-type]
    print(report.summary())
    return report.zip_path


def destroy_command(
    stack: Stack = "image-service",
    region: Region = None,
    delete_data: Annotated[
        bool, typer.Option("--delete-data", help="Also delete the bucket with every image, and the table")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete the stack. The bucket and the table are kept unless --delete-data."""
    from image_service.deploy.stack import DeployError, destroy

    session, region_name = _session(region)
    what = (
        "the stack, ALL IMAGES and their metadata"
        if delete_data
        else "the stack (images and metadata are kept)"
    )
    if not yes and not typer.confirm(f"Delete {what} of {stack} in {region_name}?"):
        raise typer.Exit(1)
    try:
        destroy(session, stack, region_name, delete_data=delete_data)
    except DeployError as exc:
        fail(f"destroy failed: {exc}", code=1)


def register(app: typer.Typer) -> None:
    app.command("template")(template_command)
    app.command("deploy")(deploy_command)
    app.command("destroy")(destroy_command)
