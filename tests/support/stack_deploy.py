"""The deploy template, deployed offline: expanded by aws-sam-translator, created on moto's
CloudFormation (the session's moto server), through the same ``deploy`` that deploys to AWS.

moto creates the bucket, the table with its indexes, the IAM role, the log groups and the Lambda
function with its version. It cannot create the HTTP API (``AWS::ApiGatewayV2::*``), the Lambda
alias, or the permission and alarm that point at them, so ``for_moto`` drops exactly those (and
the outputs naming them) and ``tests/infra/test_template.py`` checks them by reading the template.
moto also accepts, and ignores, the secret, the alarms, bucket CORS and TTL: read there too.
"""

from __future__ import annotations

import functools
import io
import re
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from aws_emulators import AwsResources, clients_for, emulators

from image_service.deploy.stack import Deployment, deploy, physical_ids
from image_service.devtools.emulator import REGION

MOTO_CANNOT_CREATE = ("AWS::ApiGatewayV2::", "AWS::Lambda::Alias", "AWS::Lambda::Permission")
# What for_moto drops from the expanded template; a change here must be a deliberate one.
DROPPED_FOR_MOTO = {
    "HttpApi",
    "HttpApiApiGatewayDefaultStage",
    "ApiDomain",
    "ApiDomainMapping",
    "ImageFunctionAliaslive",
    "ImageFunctionApiPermission",
    "Api5xxRateAlarm",
}


class EmulatorSession:
    """A boto3 session whose clients all talk to the session's moto server."""

    def __init__(self) -> None:
        self.url = emulators().s3_url  # moto serves CloudFormation, S3, DynamoDB, IAM, STS...
        self._session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
        )

    @functools.cache  # noqa: B019 (one session per test run: made once, kept)
    def client(self, service: str, region_name: str | None = None) -> Any:
        return self._session.client(service, region_name=region_name or REGION, endpoint_url=self.url)


@functools.cache
def emulator_session() -> EmulatorSession:
    return EmulatorSession()


def references(node: Any) -> Iterator[str]:
    """The logical ids a template fragment names (Ref, GetAtt, Sub, DependsOn)."""
    if isinstance(node, list):
        for item in node:
            yield from references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else value.split(".")[0]
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                yield from re.findall(r"\$\{([A-Za-z0-9]+)", text)
                yield from references(value)
            elif key == "DependsOn":
                yield from [value] if isinstance(value, str) else value
            else:
                yield from references(value)


def cannot_create(template: dict[str, Any]) -> set[str]:
    """The resources moto cannot create, and every resource that names one of them."""
    resources = template["Resources"]
    dropped = {name for name, body in resources.items() if body["Type"].startswith(MOTO_CANNOT_CREATE)}
    grew = True
    while grew:
        more = {
            name
            for name, body in resources.items()
            if name not in dropped and set(references(body)) & dropped
        }
        dropped |= more
        grew = bool(more)
    return dropped


def for_moto(template: dict[str, Any]) -> dict[str, Any]:
    dropped = cannot_create(template)
    assert dropped == DROPPED_FOR_MOTO, f"moto would now skip {sorted(dropped)}"
    return {
        **template,
        "Resources": {k: v for k, v in template["Resources"].items() if k not in dropped},
        "Outputs": {k: v for k, v in template.get("Outputs", {}).items() if not set(references(v)) & dropped},
    }


@functools.cache
def small_artifact() -> Path:
    """A stand-in package: the offline stacks never run their function (moto would need Docker),
    and the real package is tested on its own (tests/package)."""
    path = Path(tempfile.mkdtemp(prefix="image-service-stack-")) / "stand-in.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("image_service/lambda_handler.py", "def handler(event, context):\n    return {}\n")
    path.write_bytes(buffer.getvalue())
    return path


def deploy_offline(stack: str, artifact: Path, **parameters: str) -> dict[str, str]:
    """Deploy the stack on moto; returns each resource's physical id by logical id. (moto does
    not fill a stack's outputs when a change set creates it, so the resources are asked.)"""
    session = emulator_session()
    deployment = Deployment(stack, REGION, parameters=parameters, prepare=for_moto)
    deploy(session, deployment, artifact, say=lambda _: None)
    return physical_ids(session.client("cloudformation"), stack)


def stack_resources() -> AwsResources:
    """A new stack on moto's CloudFormation, as AwsResources on the bucket and table it made."""
    made = deploy_offline(f"t-{uuid.uuid4().hex[:12]}", small_artifact())
    emu = emulators()
    clients = clients_for(emu, dynamodb_url=emu.s3_url)  # the stack's table is on moto
    return AwsResources(emu, clients, made["ImageBucket"], made["ImageTable"])
