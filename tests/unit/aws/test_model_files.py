"""botocore's model files read with orjson (aws/model_files.py) inside AwsClients' one session.

Only the parser changes: every file the service's clients read must come out equal to what
botocore's own JSONFileLoader makes of it, the folders botocore searches (AWS_DATA_PATH first)
must stay botocore's, and the clients must be the ones botocore would make.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.loaders import JSONFileLoader

from image_service.aws.clients import AwsClients, AwsConfig, new_session
from image_service.aws.model_files import OrjsonFileLoader


class Recording(OrjsonFileLoader):
    def __init__(self) -> None:
        self.loaded: list[str] = []

    def load_file(self, file_path: str) -> Any:
        data = super().load_file(file_path)
        if data is not None:
            self.loaded.append(file_path)
        return data


@pytest.fixture
def no_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_DATA_PATH", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.usefixtures("no_aws_environment")
def test_every_file_the_clients_read_parses_as_botocore_parses_it() -> None:
    clients = AwsClients(AwsConfig(region="eu-west-3"))
    recording = Recording()
    clients._botocore_session().get_component("data_loader").file_loader = recording
    for client in (clients.s3, clients.dynamodb, clients.secretsmanager):
        assert client.meta.region_name == "eu-west-3"
    names = {Path(path).name for path in recording.loaded}
    # The service models, the endpoint rule sets, and the endpoint and partition data.
    assert {"service-2", "endpoint-rule-set-1", "endpoints", "partitions"} <= names, names
    for path in list(recording.loaded):
        assert recording.load_file(path) == JSONFileLoader().load_file(path), path


@pytest.mark.usefixtures("no_aws_environment")
@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:9"])
def test_the_clients_answer_as_boto3_clients_configured_alike(endpoint: str | None) -> None:
    """Endpoints (AWS's, from the rule sets, or a given one), region and signing as boto3's."""
    clients = AwsClients(AwsConfig(region="us-west-2", endpoint_url=endpoint))
    assert isinstance(clients._botocore_session().get_component("data_loader").file_loader, OrjsonFileLoader)
    session = boto3.session.Session(region_name="us-west-2")
    config = Config(s3={"addressing_style": "path" if endpoint else "auto"}, signature_version="s3v4")
    reference = session.client("s3", endpoint_url=endpoint, config=config)
    params = {"Bucket": "my-bucket", "Key": "a/k.jpg"}
    ours, theirs = (
        urlsplit(c.generate_presigned_url("get_object", Params=params, ExpiresIn=60))
        for c in (clients.s3, reference)
    )
    assert (ours.scheme, ours.netloc, ours.path) == (theirs.scheme, theirs.netloc, theirs.path)
    unsigned = {"X-Amz-Date", "X-Amz-Signature"}
    assert {k: v for k, v in parse_qsl(ours.query) if k not in unsigned} == {
        k: v for k, v in parse_qsl(theirs.query) if k not in unsigned
    }
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    assert clients.dynamodb.meta.endpoint_url == dynamodb.meta.endpoint_url
    assert clients.dynamodb.meta.region_name == dynamodb.meta.region_name == "us-west-2"


def test_aws_data_path_still_comes_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    loader = new_session("us-east-1").get_component("data_loader")
    assert loader.search_paths[0] == str(tmp_path)
    assert isinstance(loader.file_loader, OrjsonFileLoader)


def test_a_plain_file_wins_over_a_compressed_one_and_a_missing_one_is_none(tmp_path: Path) -> None:
    (tmp_path / "model.json.gz").write_bytes(gzip.compress(json.dumps({"from": "gz"}).encode()))
    loader = OrjsonFileLoader()
    assert loader.load_file(str(tmp_path / "model")) == {"from": "gz"}
    (tmp_path / "model.json").write_text(json.dumps({"from": "json", "n": [1, 2.5, None, True]}))
    assert loader.load_file(str(tmp_path / "model")) == {"from": "json", "n": [1, 2.5, None, True]}
    assert loader.load_file(str(tmp_path / "missing")) is None
    assert loader.load_file(str(tmp_path / "model.json" / "below-a-file")) is None
    assert loader.exists(str(tmp_path / "model")) and not loader.exists(str(tmp_path / "missing"))
