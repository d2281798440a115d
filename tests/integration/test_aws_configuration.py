"""The aws backend's configuration: settings and their aliases, secrets from Secrets Manager (on
moto) with a TTL cache, the bootstrap admin key, and the table the one definition creates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_emulators import emulators, fresh_resources

from image_service.aws.clients import AwsClients
from image_service.aws.secrets import CachedSecrets, ServiceSecrets, derived_signing_key
from image_service.aws.table import INDEXES, SHARDS, TTL_ATTRIBUTE, create_table_request
from image_service.bootstrap import ConfigurationError, aws_config, aws_context, bootstrap
from image_service.domain.errors import BackendUnavailable
from image_service.services.keys import authenticate, create_key, ensure_admin_key
from image_service.settings import Settings

AWS_VARS = (
    "BUCKET_NAME", "S3_BUCKET_NAME", "TABLE_NAME", "DYNAMODB_TABLE_NAME", "AWS_ENDPOINT_URL",
    "USE_LOCALSTACK",
    "IMAGE_SERVICE_SIGNING_KEY", "IMAGE_SERVICE_ADMIN_KEY", "IMAGE_SERVICE_SECRET_ARN",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)


def test_seed_aliases_and_localstack_shorthand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_BUCKET_NAME", "b1")
    monkeypatch.setenv("DYNAMODB_TABLE_NAME", "t1")
    monkeypatch.setenv("USE_LOCALSTACK", "1")
    settings = Settings()
    assert (settings.bucket_name, settings.table_name) == ("b1", "t1")
    assert settings.aws_endpoint_url == "http://localhost:4566"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    config = aws_config(Settings())
    assert config.service_endpoints == {"s3": "http://127.0.0.1:1"}
    assert (config.retry_mode, config.endpoint_url) == ("adaptive", "http://localhost:4566")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TABLE_NAME": "t"}, "BUCKET_NAME and TABLE_NAME"),
        ({"BUCKET_NAME": "b", "TABLE_NAME": "t"}, "IMAGE_SERVICE_SIGNING_KEY"),
        ({"BUCKET_NAME": "b", "TABLE_NAME": "t", "IMAGE_SERVICE_SIGNING_KEY": "abcd"}, "at least 16 bytes"),
        ({"BUCKET_NAME": "b", "TABLE_NAME": "t", "IMAGE_SERVICE_SIGNING_KEY": "zz" * 20}, "hex"),
    ],
)
def test_unusable_settings_fail_at_start(
    env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=message):
        bootstrap(Settings(IMAGE_SERVICE_BACKEND="aws"))  # type: ignore[call-arg]


def test_building_the_context_makes_no_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """Endpoints that refuse every connection: building works; the first use is a clean 503."""
    env = {"BUCKET_NAME": "b", "TABLE_NAME": "t", "IMAGE_SERVICE_SIGNING_KEY": "ab" * 16,
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ctx = bootstrap(Settings(IMAGE_SERVICE_BACKEND="aws"))  # type: ignore[call-arg]
    with pytest.raises(BackendUnavailable):
        ctx.catalog.ping()


def test_secrets_come_from_secrets_manager_and_rotate_after_the_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = fresh_resources()
    for name, value in resources.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IMAGE_SERVICE_SIGNING_KEY")
    monkeypatch.delenv("IMAGE_SERVICE_ADMIN_KEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", emulators().s3_url)  # moto serves both
    sm = resources.clients.secretsmanager
    arn = sm.create_secret(
        Name=f"{resources.table}-secret",
        SecretString=json.dumps({"signing_key": "11" * 32, "admin_key": "isk_boot_first"}),
    )["ARN"]
    monkeypatch.setenv("IMAGE_SERVICE_SECRET_ARN", arn)
    ctx = aws_context(Settings(IMAGE_SERVICE_SECRETS_TTL=0))  # type: ignore[call-arg]
    first = ctx.signer.sign("cursor", "m")
    assert authenticate(ctx.keys, "isk_boot_first").is_admin
    assert ensure_admin_key(ctx.keys, now=ctx.now()) is None, "a configured admin key needs no new one"

    sm.put_secret_value(
        SecretId=arn, SecretString=json.dumps({"signing_key": "22" * 32, "admin_key": "isk_boot_second"})
    )
    assert ctx.signer.sign("cursor", "m") != first, "ttl 0: the rotated secret is used at once"
    assert authenticate(ctx.keys, "isk_boot_second").is_admin
    _, token = create_key(ctx.keys, "carol", is_admin=False, now=ctx.now())
    assert authenticate(ctx.keys, token).user_id == "carol", "stored keys still work beside it"


@pytest.mark.parametrize(
    ("secret", "works"),
    [
        ({"admin_key": "Q7wLm2Zr9Xc4Vb8Nt1Ky6Hd3Jf5Gs0Pa2Ue4Wi7Ro9"}, True),  # what the template makes
        ({"signing_key": "not hex", "admin_key": "isk_x"}, False),
        ({"other": "value"}, False),
    ],
)
def test_a_secret_with_only_an_admin_key_derives_the_signing_key(
    monkeypatch: pytest.MonkeyPatch, secret: dict[str, str], works: bool
) -> None:
    resources = fresh_resources()
    for name, value in resources.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IMAGE_SERVICE_SIGNING_KEY")
    monkeypatch.delenv("IMAGE_SERVICE_ADMIN_KEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", emulators().s3_url)
    sm = resources.clients.secretsmanager
    arn = sm.create_secret(Name=f"{resources.table}-only-admin", SecretString=json.dumps(secret))["ARN"]
    monkeypatch.setenv("IMAGE_SERVICE_SECRET_ARN", arn)
    ctx = aws_context(Settings())
    if not works:
        with pytest.raises(BackendUnavailable, match="malformed"):
            ctx.signer.sign("cursor", "m")
        return
    assert authenticate(ctx.keys, secret["admin_key"]).is_admin
    derived = bytes.fromhex(derived_signing_key(secret["admin_key"]))
    assert len(derived) == 32 and derived != secret["admin_key"].encode()
    again = aws_context(Settings())
    assert ctx.signer.sign("cursor", "m") == again.signer.sign("cursor", "m"), (
        "every instance derives the same key"
    )


def test_the_cache_keeps_a_value_for_its_ttl_and_survives_an_outage() -> None:
    clock = [0.0]
    values = iter([ServiceSecrets(b"a" * 16), ServiceSecrets(b"b" * 16)])
    calls = []

    def fetch() -> ServiceSecrets:
        calls.append(clock[0])
        try:
            return next(values)
        except StopIteration:
            raise BackendUnavailable("down") from None

    cache = CachedSecrets(fetch, ttl=300, clock=lambda: clock[0])
    assert cache.get().signing_key == b"a" * 16
    clock[0] = 299
    assert cache.get().signing_key == b"a" * 16
    clock[0] = 300
    assert cache.get().signing_key == b"b" * 16
    clock[0] = 700
    assert cache.get().signing_key == b"b" * 16, "the last good value while Secrets Manager is down"
    assert calls == [0.0, 300, 700]


def test_the_created_table_is_the_one_definition(tmp_path: Path) -> None:
    resources = fresh_resources()
    table = resources.clients.dynamodb.describe_table(TableName=resources.table)["Table"]
    wanted = create_table_request(resources.table)
    assert table["KeySchema"] == wanted["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(wanted["AttributeDefinitions"], key=str)
    got = {i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in table["GlobalSecondaryIndexes"]}
    assert got == {
        i["IndexName"]: (i["KeySchema"], i["Projection"]) for i in wanted["GlobalSecondaryIndexes"]
    }
    assert len(got) == len(INDEXES) and SHARDS >= 2
    ttl = resources.clients.dynamodb.describe_time_to_live(TableName=resources.table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == TTL_ATTRIBUTE


@pytest.mark.parametrize(
    ("config_file", "default_region", "expected"),
    [
        ("[default]\nregion = eu-west-3\n", None, "eu-west-3"),  # the profile's, as boto3 finds it
        ("[default]\nregion = eu-west-3\n", "ap-south-1", "ap-south-1"),  # the variable wins
        ("", None, "us-east-1"),  # nothing anywhere: the fallback
    ],
)
def test_the_region_is_the_one_boto3_resolves(
    config_file: str,
    default_region: str | None,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "config"
    config.write_text(config_file)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    if default_region is not None:
        monkeypatch.setenv("AWS_DEFAULT_REGION", default_region)
    monkeypatch.setenv("BUCKET_NAME", "b")
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("IMAGE_SERVICE_SIGNING_KEY", "ab" * 32)
    settings = Settings()
    assert settings.aws_region == default_region
    clients = AwsClients(aws_config(settings))
    # Creating a client makes no request: its region is what every call would be signed for.
    regions = {clients.s3.meta.region_name, clients.dynamodb.meta.region_name}
    assert regions == {expected} and clients.region == expected
    # The S3 adapters' presigned URLs are signed for that region too.
    url = clients.s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    assert f"/{expected}/s3/aws4_request" in url.replace("%2F", "/")
