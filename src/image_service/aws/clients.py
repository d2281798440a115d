"""boto3 clients, made lazily once per process, with retries and timeouts that suit an API.

Nothing here touches the network at import: Lambda's cold start pays only for what a request
uses. Endpoints follow boto3's own rules (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``,
``AWS_ENDPOINT_URL_DYNAMODB``), plus ``USE_LOCALSTACK=1`` as a shorthand, and so does the
region unless one is given: ``AWS_DEFAULT_REGION``, then the profile's config file.

The clients are botocore's, made by one botocore session, which is what ``boto3.client`` returns
too: boto3 adds only S3's managed transfers (``upload_fileobj`` and friends, through s3transfer),
which the adapters never call, and importing it costs a cold start ~20 ms. Credentials, region,
endpoints and retries are resolved by botocore in both cases.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient


# Where the clients go when neither the settings nor botocore (environment, profile) name a
# region: boto3 itself would refuse to make a client, but a signed request needs one, and the
# emulators and LocalStack accept any.
FALLBACK_REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class AwsConfig:
    region: str | None = None  # None: boto3's own resolution (see AwsClients.region)
    endpoint_url: str | None = None  # every service (LocalStack, or any compatible endpoint)
    # Per service, winning over endpoint_url (AWS_ENDPOINT_URL_S3 and friends).
    service_endpoints: dict[str, str] = field(default_factory=dict)
    retry_mode: Literal["standard", "adaptive", "legacy"] = "standard"
    max_attempts: int = 4
    connect_timeout: float = 2.0
    read_timeout: float = 10.0
    max_pool_connections: int = 32


@dataclass
class AwsClients:
    """One client per service, created on first use and shared by every thread."""

    config: AwsConfig = field(default_factory=AwsConfig)
    _clients: dict[str, Any] = field(default_factory=dict)
    # Reentrant: a client's creation (under the lock) may be the one that creates the session.
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _session: Any = None

    @property
    def region(self) -> str:
        """The region every client uses: the configured one, else the one botocore resolves."""
        region: str | None = self._botocore_session().get_config_variable("region")
        return region or FALLBACK_REGION

    @property
    def s3(self) -> S3Client:
        return self._client("s3")  # type: ignore[no-any-return]

    @property
    def dynamodb(self) -> DynamoDBClient:
        return self._client("dynamodb")  # type: ignore[no-any-return]

    @property
    def secretsmanager(self) -> SecretsManagerClient:
        return self._client("secretsmanager")  # type: ignore[no-any-return]

    def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    client = self._clients[service] = self._make(service)
        return client

    def _make(self, service: str) -> Any:
        from botocore.config import Config

        endpoint = self.config.service_endpoints.get(service) or self.config.endpoint_url
        extra: dict[str, Any] = {}
        if service == "s3":
            # Virtual-host addressing needs DNS for <bucket>.<host>; emulators only answer by path.
            extra["s3"] = {"addressing_style": "path" if endpoint else "auto"}
            extra["signature_version"] = "s3v4"
        config = Config(
            region_name=self.region,
            retries={"mode": self.config.retry_mode, "max_attempts": self.config.max_attempts},
            connect_timeout=self.config.connect_timeout,
            read_timeout=self.config.read_timeout,
            max_pool_connections=self.config.max_pool_connections,
            **extra,
        )
        return self._botocore_session().create_client(service, endpoint_url=endpoint, config=config)

    def _botocore_session(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = new_session(self.config.region)
        return self._session


def new_session(region: str | None) -> Any:
    """One botocore session for every client: it loads the endpoint and partition data once (a
    second session costs a cold start ~100 ms more), and its loader reads the model files with
    orjson (aws/model_files.py). With ``region`` None, botocore resolves the region as every AWS
    tool does (AWS_DEFAULT_REGION, then the profile's config file)."""
    from botocore.loaders import create_loader
    from botocore.session import Session

    from image_service.aws.model_files import OrjsonFileLoader

    session = Session()
    if region is not None:
        session.set_config_variable("region", region)
    # What botocore's own "data_loader" component is (AWS_DATA_PATH and the default folders),
    # but with the faster file loader; registered before any client makes botocore build its own.
    loader = create_loader(session.get_config_variable("data_path"))
    loader.file_loader = OrjsonFileLoader()
    session.register_component("data_loader", loader)
    return session
