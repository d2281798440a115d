"""Create, update and remove the CloudFormation stack of ``infra/template.yaml``.

``deploy`` is idempotent: the Lambda package is stored under its own SHA-256, the template is
expanded locally (``template.expand``) and applied through a change set, and a change set with no
changes is dropped, so running it twice with the same code and parameters changes nothing.

``destroy`` deletes the stack. The bucket and the table are retained by the template
(``DeletionPolicy: Retain``), so images and their metadata survive; ``delete_data=True`` empties
and deletes them too. The artifacts bucket is shared by every stack of the account and region,
and is kept.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from image_service.deploy import template as templates

Prepare = Callable[[dict[str, Any]], dict[str, Any]]
# CloudFormation takes a template body up to this size; a larger one must come from S3.
MAX_TEMPLATE_BODY = 51_200
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
WAIT = {"Delay": 5, "MaxAttempts": 360}  # up to 30 minutes, like the console


class DeployError(RuntimeError):
    """The stack could not be created, updated or deleted; the message says why."""


@dataclass
class Deployment:
    stack: str
    region: str
    template: Path = templates.TEMPLATE
    parameters: Mapping[str, str] = field(default_factory=dict)
    artifacts_bucket: str | None = None
    # Lets a caller adjust the expanded template (the offline tests drop what moto cannot create).
    prepare: Prepare | None = None


def artifacts_bucket_name(account: str, region: str) -> str:
    return f"image-service-artifacts-{account}-{region}"


def ensure_artifacts_bucket(s3: Any, name: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=name)
        return
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise DeployError(f"cannot use the artifacts bucket {name}: {exc}") from None
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **location)
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def upload_artifact(s3: Any, bucket: str, artifact: Path) -> str:
    """Store the package under its SHA-256 (once) and return its S3 URI."""
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    key = f"lambda/{digest}.zip"
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        s3.upload_file(str(artifact), bucket, key)
    return f"s3://{bucket}/{key}"


def render(deployment: Deployment, code_uri: str) -> dict[str, Any]:
    """The plain CloudFormation template for this deployment, its code at ``code_uri``."""
    template = templates.load(deployment.template.read_text())
    function = template["Resources"]["ImageFunction"]["Properties"]
    function["CodeUri"] = code_uri
    # SAM names the published version (and so what the `live` alias serves) after a hash of the
    # code and of the function's properties as written, with their !Refs unresolved: a change of
    # MemorySize, Timeout or SnapStart alone would leave the alias on the old version. The code
    # and every parameter value go into the hash instead.
    configured = json.dumps([code_uri, sorted(deployment.parameters.items())])
    function["AutoPublishCodeSha256"] = hashlib.sha256(configured.encode()).hexdigest()
    expanded = templates.expand(template, region=deployment.region, parameters=deployment.parameters)
    return deployment.prepare(expanded) if deployment.prepare else expanded


def stack_status(cloudformation: Any, stack: str) -> str | None:
    """The stack's status, or None if there is no such stack."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return str(stacks[0]["StackStatus"])


def deploy(
    session: Any, deployment: Deployment, artifact: Path, say: Callable[[str], None] = print
) -> dict[str, str]:
    """Create or update the stack; returns its outputs. Every failure is a DeployError."""
    try:
        return _deploy(session, deployment, artifact, say)
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(str(exc)) from None


def _deploy(
    session: Any, deployment: Deployment, artifact: Path, say: Callable[[str], None]
) -> dict[str, str]:
    cloudformation = session.client("cloudformation", region_name=deployment.region)
    s3 = session.client("s3", region_name=deployment.region)
    account = session.client("sts", region_name=deployment.region).get_caller_identity()["Account"]
    bucket = deployment.artifacts_bucket or artifacts_bucket_name(account, deployment.region)
    ensure_artifacts_bucket(s3, bucket, deployment.region)
    code_uri = upload_artifact(s3, bucket, artifact)
    say(f"package {artifact.name} at {code_uri}")

    body = json.dumps(render(deployment, code_uri), sort_keys=True)
    source: dict[str, str] = {"TemplateBody": body}
    if len(body) > MAX_TEMPLATE_BODY:
        key = f"templates/{hashlib.sha256(body.encode()).hexdigest()}.json"
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
        source = {"TemplateURL": f"https://{bucket}.s3.{deployment.region}.amazonaws.com/{key}"}

    status = stack_status(cloudformation, deployment.stack)
    if status == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"stack {deployment.stack} failed to create; `image-service destroy` it, then deploy"
        )
    # A stack in REVIEW_IN_PROGRESS has only a create change set that was never executed.
    kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    name = f"image-service-{kind.lower()}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    cloudformation.create_change_set(
        StackName=deployment.stack,
        ChangeSetName=name,
        ChangeSetType=kind,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in deployment.parameters.items()],
        Tags=[{"Key": "application", "Value": "image-service"}],
        **source,
    )
    try:
        cloudformation.get_waiter("change_set_create_complete").wait(
            StackName=deployment.stack, ChangeSetName=name, WaiterConfig=WAIT
        )
    except WaiterError:
        described = cloudformation.describe_change_set(StackName=deployment.stack, ChangeSetName=name)
        reason = described.get("StatusReason", "")
        if any(marker in reason for marker in NO_CHANGES):
            cloudformation.delete_change_set(StackName=deployment.stack, ChangeSetName=name)
            say(f"stack {deployment.stack} is up to date")
            return outputs(cloudformation, deployment.stack)
        raise DeployError(f"the change set failed: {reason}") from None

    say(f"{'creating' if kind == 'CREATE' else 'updating'} stack {deployment.stack} in {deployment.region}")
    cloudformation.execute_change_set(StackName=deployment.stack, ChangeSetName=name)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cloudformation.get_waiter(waiter).wait(StackName=deployment.stack, WaiterConfig=WAIT)
    except WaiterError:
        raise DeployError(
            f"stack {deployment.stack} failed: {failure_reasons(cloudformation, deployment.stack)}"
        ) from None
    return outputs(cloudformation, deployment.stack)


def outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {item["OutputKey"]: item["OutputValue"] for item in described.get("Outputs", [])}


def physical_ids(cloudformation: Any, stack: str) -> dict[str, str]:
    """Each resource's logical id -> its name or id (what the template calls ImageBucket, say)."""
    resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources if r.get("PhysicalResourceId")}


def failure_reasons(cloudformation: Any, stack: str) -> str:
    events = cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    failed = [
        f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}"
        for event in events
        if event.get("ResourceStatus", "").endswith("FAILED")
    ]
    return "; ".join(failed[:5]) or "see the stack's events"


def destroy(
    session: Any, stack: str, region: str, *, delete_data: bool = False, say: Callable[[str], None] = print
) -> None:
    """Delete the stack (and, with ``delete_data``, its bucket and table). Every failure is a
    DeployError."""
    try:
        _destroy(session, stack, region, delete_data, say)
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(str(exc)) from None


def _destroy(session: Any, stack: str, region: str, delete_data: bool, say: Callable[[str], None]) -> None:
    cloudformation = session.client("cloudformation", region_name=region)
    if stack_status(cloudformation, stack) is None:
        say(f"there is no stack {stack} in {region}")
        return
    kept = physical_ids(cloudformation, stack)
    cloudformation.delete_stack(StackName=stack)
    try:
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig=WAIT)
    except WaiterError:
        raise DeployError(
            f"stack {stack} could not be deleted: {failure_reasons(cloudformation, stack)}"
        ) from None
    bucket, table = kept.get("ImageBucket"), kept.get("ImageTable")
    if not delete_data:
        say(f"deleted stack {stack}; kept bucket {bucket} and table {table} (--delete-data removes them)")
        return
    if bucket:
        empty_and_delete_bucket(session.client("s3", region_name=region), bucket)
    if table:
        session.client("dynamodb", region_name=region).delete_table(TableName=table)
    say(f"deleted stack {stack}, bucket {bucket} and table {table}")


def empty_and_delete_bucket(s3: Any, bucket: str) -> None:
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)
