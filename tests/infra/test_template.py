"""infra/template.yaml, read: lint, the generated table, least-privilege IAM, and every setting
that moto's CloudFormation ignores (so the offline deployment cannot show it): bucket CORS,
encryption, public access, TLS-only policy and lifecycle; table TTL and recovery; the secret;
the HTTP API, its throttling and access logs; SnapStart; alarms.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from settings_env import settings_variables

from image_service.api import cors
from image_service.aws import table
from image_service.deploy import template as templates
from image_service.services.direct_uploads import PENDING_PREFIX

ROOT = Path(__file__).parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
# The only IAM resources that end in a wildcard, and why nothing narrower exists (docs/DEPLOY.md):
ALLOWED_WILDCARDS = {
    # Objects are created under keys made at run time (<owner>/<id>, ~pending/...): an object ARN
    # can only name them by a pattern under this one bucket.
    "${ImageBucket.Arn}/*",
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return templates.load(TEMPLATE.read_text())


def expand(sam: dict[str, Any], **parameters: str) -> dict[str, Any]:
    code = {**sam["Resources"]["ImageFunction"]["Properties"], "CodeUri": "s3://artifacts/lambda/x.zip"}
    function = {**sam["Resources"]["ImageFunction"], "Properties": code}
    resources = {**sam["Resources"], "ImageFunction": function}
    return templates.expand({**sam, "Resources": resources}, region="eu-west-1", parameters=parameters)


@pytest.fixture(scope="module")
def expanded(sam: dict[str, Any]) -> dict[str, Any]:
    return expand(sam)


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][name]["Properties"]
    return properties


def test_cfn_lint_finds_nothing() -> None:
    run = subprocess.run(
        [Path(sys.executable).parent / "cfn-lint", TEMPLATE], capture_output=True, text=True, check=False
    )
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_the_generated_blocks_are_what_the_code_generates() -> None:
    text = TEMPLATE.read_text()
    assert templates.regenerate(text) == text, "run: image-service template --write"


def test_a_stale_block_is_found_and_rewritten(tmp_path: Path) -> None:
    stale = tmp_path / "template.yaml"
    stale.write_text(TEMPLATE.read_text().replace("IndexName: by_tag", "IndexName: by_label"))
    check = [sys.executable, "-m", "image_service.cli.main", "template", "--template", str(stale)]
    assert subprocess.run(check, capture_output=True, check=False).returncode == 1
    assert subprocess.run([*check, "--write"], capture_output=True, check=False).returncode == 0
    assert stale.read_text() == TEMPLATE.read_text()
    assert subprocess.run(check, capture_output=True, check=False).returncode == 0


def test_the_table_is_the_code_definition(sam: dict[str, Any]) -> None:
    table_resource = sam["Resources"]["ImageTable"]
    properties = table_resource["Properties"]
    request = table.create_table_request("any")
    for key in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "BillingMode"):
        assert properties[key] == request[key], key
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": table.TTL_ATTRIBUTE, "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table_resource["DeletionPolicy"] == table_resource["UpdateReplacePolicy"] == "Retain"


def statements(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            assert "ManagedPolicyArns" not in resource["Properties"], "managed policies grant on *"
            for policy in resource["Properties"].get("Policies", []):
                yield from policy["PolicyDocument"]["Statement"]
        assert resource["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def resource_texts(resource: Any) -> Iterator[str]:
    """A statement's resources as text: literals, and Sub strings as written."""
    for item in resource if isinstance(resource, list) else [resource]:
        if isinstance(item, str):
            yield item
        elif "Fn::Sub" in item:
            yield item["Fn::Sub"] if isinstance(item["Fn::Sub"], str) else item["Fn::Sub"][0]
        else:
            assert set(item) <= {"Ref", "Fn::GetAtt"}, item  # names one of our resources


def test_iam_grants_nothing_on_a_wildcard_but_the_bucket_objects(expanded: dict[str, Any]) -> None:
    found = list(statements(expanded))
    assert found, "the function's role has its policy"
    wildcards = set()
    for statement in found:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), actions
        wildcards |= {text for text in resource_texts(statement["Resource"]) if "*" in text}
    assert wildcards == ALLOWED_WILDCARDS


def test_iam_names_only_this_stacks_resources_and_each_index(sam: dict[str, Any]) -> None:
    named = set()
    for statement in statements(sam):
        for item in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        ):
            named.add(str(item))
    for name, _, _ in table.INDEXES:
        assert str({"Fn::Sub": f"${{ImageTable.Arn}}/index/{name}"}) in named
    assert "ServiceSecret" in str(named) and "FunctionLogGroup" in str(named)


def test_the_bucket_is_private_encrypted_tls_only_and_expires_pending_uploads(sam: dict[str, Any]) -> None:
    bucket = sam["Resources"]["ImageBucket"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    properties = bucket["Properties"]
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(properties["PublicAccessBlockConfiguration"]) == 4
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    rules = {rule["Id"]: rule for rule in properties["LifecycleConfiguration"]["Rules"]}
    pending = rules["expire-stale-pending-uploads"]
    assert pending["Prefix"] == PENDING_PREFIX and pending["Status"] == "Enabled"
    assert pending["ExpirationInDays"] == {"Ref": "PendingUploadExpirationDays"}
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }

    (deny,) = props(sam, "ImageBucketPolicy")["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [{"Fn::GetAtt": ["ImageBucket", "Arn"]}, {"Fn::Sub": "${ImageBucket.Arn}/*"}]


def resolve(value: Any, parameters: dict[str, Any], conditions: dict[str, bool]) -> Any:
    """The few intrinsic functions the bucket's CORS origins use, evaluated as CloudFormation would."""
    if not isinstance(value, dict):
        return value
    ((function, argument),) = value.items()
    match function:
        case "Ref":
            return parameters[argument]
        case "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(parameters[m.group(1)]), argument)
        case "Fn::If":
            condition, then, otherwise = argument
            return resolve(then if conditions[condition] else otherwise, parameters, conditions)
        case "Fn::Join":
            separator, items = argument
            items = resolve(items, parameters, conditions)
            return separator.join(resolve(item, parameters, conditions) for item in items)
        case "Fn::Split":
            separator, text = argument
            return resolve(text, parameters, conditions).split(separator)
    raise AssertionError(value)


def bucket_origins(sam: dict[str, Any], domain: str = "", origins: list[str] | None = None) -> list[str]:
    (rule,) = props(sam, "ImageBucket")["CorsConfiguration"]["CorsRules"]
    assert {"POST", "GET", "HEAD"} <= set(rule["AllowedMethods"])
    parameters = {
        "AWS::Region": "eu-west-1",
        "AWS::URLSuffix": "amazonaws.com",
        "DomainName": domain,
        "CorsAllowedOrigins": origins or [],
    }
    conditions = {"HasDomain": bool(domain), "HasCors": bool(origins)}
    resolved: list[str] = resolve(rule["AllowedOrigins"], parameters, conditions)
    return resolved


def test_the_bucket_always_accepts_uploads_from_the_apis_own_origin(sam: dict[str, Any]) -> None:
    """The gallery is served by the API and POSTs large files straight to the bucket."""
    api_origin = "https://*.execute-api.eu-west-1.amazonaws.com"
    assert bucket_origins(sam) == [api_origin]
    assert bucket_origins(sam, domain="images.example.com") == [api_origin, "https://images.example.com"]
    assert bucket_origins(
        sam, domain="images.example.com", origins=["https://a.example", "https://b.example"]
    ) == [
        api_origin,
        "https://images.example.com",
        "https://a.example",
        "https://b.example",
    ]
    assert bucket_origins(sam, origins=["https://a.example"]) == [api_origin, "https://a.example"]
    for origin in bucket_origins(sam, domain="images.example.com", origins=["https://a.example"]):
        assert origin.count("*") <= 1  # S3 accepts one wildcard per origin


def test_the_api_cors_is_on_only_for_the_origins_given(sam: dict[str, Any]) -> None:
    assert sam["Parameters"]["CorsAllowedOrigins"]["Default"] == ""
    condition, api_cors, _ = props(sam, "HttpApi")["CorsConfiguration"]["Fn::If"]
    assert condition == "HasCors" and api_cors["AllowOrigins"] == {"Ref": "CorsAllowedOrigins"}


def test_the_secret_holds_a_generated_admin_key(sam: dict[str, Any]) -> None:
    generated = props(sam, "ServiceSecret")["GenerateSecretString"]
    # aws/secrets.py derives the signing key from an admin_key alone.
    assert generated["GenerateStringKey"] == "admin_key" and generated["SecretStringTemplate"] == "{}"
    assert generated["PasswordLength"] >= 40 and generated["ExcludePunctuation"] is True


def test_the_function_runs_the_handler_with_the_environment_the_service_reads(sam: dict[str, Any]) -> None:
    function = props(sam, "ImageFunction")
    module, _, attribute = function["Handler"].rpartition(".")
    source = (ROOT / "src" / (module.replace(".", "/") + ".py")).read_text()
    assert re.search(rf"^(\s*{attribute} = |def {attribute}\()", source, re.MULTILINE)
    runtime = function["Runtime"]
    assert runtime.startswith("python3.") and int(runtime.removeprefix("python3.")) >= 12
    assert function["Architectures"] == [{"Ref": "Architecture"}]
    assert sam["Parameters"]["Architecture"]["Default"] == "arm64"
    assert function["MemorySize"] == {"Ref": "MemorySize"} and function["Timeout"] == {"Ref": "Timeout"}
    assert function["ReservedConcurrentExecutions"]["Fn::If"][0] == "HasReservedConcurrency"
    assert function["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}} and function["AutoPublishAlias"]
    assert sam["Parameters"]["SnapStart"]["Default"] == "PublishedVersions"
    environment = function["Environment"]["Variables"]
    assert set(environment) <= settings_variables(), set(environment) - settings_variables()
    assert environment["IMAGE_SERVICE_BACKEND"] == "aws"
    assert environment["BUCKET_NAME"] == {"Ref": "ImageBucket"}
    assert environment["TABLE_NAME"] == {"Ref": "ImageTable"}
    assert environment["IMAGE_SERVICE_SECRET_ARN"] == {"Ref": "ServiceSecret"}
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogGroup"}


def test_the_http_api_throttles_logs_and_routes_everything_to_the_live_alias(
    expanded: dict[str, Any],
) -> None:
    (stage,) = [
        r["Properties"] for r in expanded["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage"
    ]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    logs = stage["AccessLogSettings"]
    assert logs["DestinationArn"] == {"Fn::GetAtt": ["ApiLogGroup", "Arn"]}
    assert "$context.requestId" in logs["Format"] and "querystring" not in logs["Format"].lower()
    body = props(expanded, "HttpApi")["Body"]
    (route,) = body["paths"].values()
    integration = route["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
    assert integration["payloadFormatVersion"] == "2.0"
    assert "ImageFunctionAliaslive" in str(integration["uri"]), "the API calls the SnapStart alias"
    assert "$default" in body["paths"] or "/$default" in body["paths"]


def test_logs_are_kept_for_the_retention_given_and_alarms_watch_errors(sam: dict[str, Any]) -> None:
    for name in ("FunctionLogGroup", "ApiLogGroup"):
        assert props(sam, name)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    errors = props(sam, "FunctionErrorsAlarm")
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    metrics = {m["Id"]: m for m in props(sam, "Api5xxRateAlarm")["Metrics"]}
    assert metrics["errors"]["MetricStat"]["Metric"]["MetricName"] == "5xx"
    assert metrics["rate"]["ReturnData"] is True


def test_outputs_name_the_api_bucket_and_table(sam: dict[str, Any]) -> None:
    assert {"ApiUrl", "BucketName", "TableName", "SecretArn"} <= set(sam["Outputs"])


def test_the_expanded_function_keeps_what_moto_drops(expanded: dict[str, Any]) -> None:
    function = props(expanded, "ImageFunction")
    assert function["Architectures"] == [{"Ref": "Architecture"}]
    assert function["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}}
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogGroup"}
    (alias,) = [r["Properties"] for r in expanded["Resources"].values() if r["Type"] == "AWS::Lambda::Alias"]
    assert alias["Name"] == "live"


def test_the_api_gateway_cors_rule_is_the_servers(sam: dict[str, Any]) -> None:
    """Behind API Gateway the gateway answers for CORS: with the rule `serve` applies (api/cors.py)."""
    _, api_cors, _ = props(sam, "HttpApi")["CorsConfiguration"]["Fn::If"]
    assert api_cors["AllowMethods"] == list(cors.METHODS)
    assert api_cors["AllowHeaders"] == list(cors.ALLOW_HEADERS)
    assert api_cors["ExposeHeaders"] == list(cors.EXPOSE_HEADERS)
    assert api_cors["MaxAge"] == cors.MAX_AGE


def test_cors_origins_reach_the_api_as_a_list(sam: dict[str, Any]) -> None:
    origins = "https://app.example.com,https://admin.example.com"
    api = props(expand(sam, CorsAllowedOrigins=origins), "HttpApi")
    cors = api["Body"]["x-amazon-apigateway-cors"]["Fn::If"][1]
    assert cors["allowOrigins"] == ["https://app.example.com", "https://admin.example.com"]
