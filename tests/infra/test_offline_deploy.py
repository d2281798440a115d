"""The template deployed offline on moto's CloudFormation through ``deploy``: what it creates,
that a second deploy changes nothing, that an update applies, and what ``destroy`` keeps.

The port contract suites also run on the bucket and table such a stack creates: the
``s3@stack`` and ``dynamodb@stack`` kinds in tests/contract/conftest.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from stack_deploy import deploy_offline, emulator_session, small_artifact

from image_service.aws import table
from image_service.deploy.stack import Deployment, destroy, physical_ids, render

ROLE_RESOURCES = {
    "ImageBucket",
    "ImageTable",
    "ImageFunction",
    "ImageFunctionRole",
    "FunctionLogGroup",
    "ApiLogGroup",
}


def client(service: str) -> Any:
    return emulator_session().client(service)


@pytest.fixture
def stack() -> str:
    return f"deploy-{uuid.uuid4().hex[:10]}"


def exists(describe: Callable[[], object]) -> bool:
    """Whether a describe call (head_bucket, describe_table) finds its resource."""
    try:
        describe()
    except ClientError:
        return False
    return True


def stack_events(stack: str) -> int:
    return len(client("cloudformation").describe_stack_events(StackName=stack)["StackEvents"])


def test_the_stack_makes_the_table_bucket_role_and_function(stack: str) -> None:
    made = deploy_offline(stack, small_artifact())
    assert set(made) >= ROLE_RESOURCES
    resources = client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    versions = [r for r in resources if r.get("ResourceType") == "AWS::Lambda::Version"]
    assert len(versions) == 1, "SnapStart restores published versions only"

    described = client("dynamodb").describe_table(TableName=made["ImageTable"])["Table"]
    assert described["KeySchema"] == table.key_schema()
    assert sorted(described["AttributeDefinitions"], key=str) == sorted(
        table.attribute_definitions(), key=str
    )
    indexes = {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in described["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in table.global_secondary_indexes()
    }
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    client("s3").head_bucket(Bucket=made["ImageBucket"])
    function = client("lambda").get_function_configuration(FunctionName=made["ImageFunction"])
    # moto's CloudFormation drops Architectures, SnapStart and LoggingConfig: test_template reads them.
    assert function["Runtime"] == "python3.12"
    assert function["Handler"] == "image_service.lambda_handler.handler"
    assert (function["MemorySize"], function["Timeout"]) == (1024, 29)
    environment = function["Environment"]["Variables"]
    assert environment["BUCKET_NAME"] == made["ImageBucket"]
    assert environment["TABLE_NAME"] == made["ImageTable"]
    assert environment["IMAGE_SERVICE_BACKEND"] == "aws"
    role = client("iam").get_role(RoleName=made["ImageFunctionRole"])["Role"]
    assert function["Role"] == role["Arn"]
    assert client("iam").list_role_policies(RoleName=made["ImageFunctionRole"])["PolicyNames"] == [
        "image-service"
    ]
    assert (
        client("iam").list_attached_role_policies(RoleName=made["ImageFunctionRole"])["AttachedPolicies"]
        == []
    )


def test_deploying_again_changes_nothing_and_a_new_parameter_updates(stack: str) -> None:
    first = deploy_offline(stack, small_artifact())
    events = stack_events(stack)
    assert deploy_offline(stack, small_artifact()) == first
    assert stack_events(stack) == events, "an unchanged deploy executes no change set"

    deploy_offline(stack, small_artifact(), ThrottlingRateLimit="50")
    assert stack_events(stack) > events
    (described,) = client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert parameters["ThrottlingRateLimit"] == "50"
    assert described["StackStatus"] == "UPDATE_COMPLETE"


@pytest.mark.parametrize("delete_data", [False, True])
def test_destroy_keeps_the_images_unless_asked(stack: str, delete_data: bool) -> None:
    made = deploy_offline(stack, small_artifact())
    client("s3").put_object(Bucket=made["ImageBucket"], Key="alice/1", Body=b"image")
    said: list[str] = []
    destroy(emulator_session(), stack, "us-east-1", delete_data=delete_data, say=said.append)
    (line,) = said
    assert stack not in {
        s["StackName"]
        for s in client("cloudformation").list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }
    bucket = exists(lambda: client("s3").head_bucket(Bucket=made["ImageBucket"]))
    table = exists(lambda: client("dynamodb").describe_table(TableName=made["ImageTable"]))
    assert bucket is table is not delete_data
    if not delete_data:
        assert client("s3").get_object(Bucket=made["ImageBucket"], Key="alice/1")["Body"].read() == b"image"
        assert "kept bucket" in line
    with pytest.raises(Exception, match="does not exist"):
        physical_ids(client("cloudformation"), stack)


def test_destroying_a_missing_stack_says_so() -> None:
    said: list[str] = []
    destroy(emulator_session(), "never-made", "us-east-1", say=said.append)
    assert said == ["there is no stack never-made in us-east-1"]


def version_ids(**parameters: str) -> set[str]:
    deployment = Deployment("any", "us-east-1", parameters=parameters)
    resources = render(deployment, "s3://artifacts/lambda/abc.zip")["Resources"]
    return {name for name, body in resources.items() if body["Type"] == "AWS::Lambda::Version"}


def test_a_parameter_change_publishes_a_new_version_for_the_alias() -> None:
    # SAM alone hashes the unresolved !Refs, so MemorySize=2048 would keep the old version live.
    assert version_ids(MemorySize="1024") == version_ids(MemorySize="1024")
    assert version_ids(MemorySize="1024") != version_ids(MemorySize="2048")
    assert version_ids(SnapStart="None") != version_ids()
