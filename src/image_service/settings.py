"""Typed settings read from the environment once, at start-up; unsafe values fail fast."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# What a browser sends in its Origin header: scheme, host, optional port; never a path.
ORIGIN = re.compile(r"https?://[^/\s,]+")
# An nginx location prefix for X-Accel-Redirect: /_accel/, /internal/blobs/ (no query, no escapes).
ACCEL_PREFIX = re.compile(r"(/[A-Za-z0-9._~\-]+)+/")


class Settings(BaseSettings):
    # Only the documented variable names are read, in their documented case: every field has its
    # own validation_alias and field names are not accepted as input (with them, `AUTH=none`
    # would switch authentication off). Code that sets fields by their Python names goes through
    # ``Settings.with_fields``.
    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", validate_by_name=False, case_sensitive=True
    )

    backend: Literal["local", "aws"] = Field("local", validation_alias="IMAGE_SERVICE_BACKEND")
    data_dir: Path = Field(Path("./data"), validation_alias="IMAGE_SERVICE_DATA_DIR")
    auth: Literal["api-key", "none"] = Field("api-key", validation_alias="IMAGE_SERVICE_AUTH")
    public_url: str = Field("", validation_alias="IMAGE_SERVICE_PUBLIC_URL")
    log_level: str = Field("INFO", validation_alias="IMAGE_SERVICE_LOG_LEVEL")
    # Browser origins that may call the API (api/cors.py); comma-separated, "*" for any.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="IMAGE_SERVICE_CORS_ORIGINS"
    )

    bucket_name: str | None = Field(None, validation_alias=AliasChoices("BUCKET_NAME", "S3_BUCKET_NAME"))
    table_name: str | None = Field(None, validation_alias=AliasChoices("TABLE_NAME", "DYNAMODB_TABLE_NAME"))
    # None: boto3 finds the region itself (AWS_DEFAULT_REGION, then the profile's config file).
    aws_region: str | None = Field(None, validation_alias="AWS_DEFAULT_REGION")
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    aws_endpoint_url_s3: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL_S3")
    aws_endpoint_url_dynamodb: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL_DYNAMODB")
    aws_endpoint_url_secrets_manager: str | None = Field(
        None, validation_alias="AWS_ENDPOINT_URL_SECRETS_MANAGER"
    )
    use_localstack: bool = Field(False, validation_alias="USE_LOCALSTACK")
    aws_retry_mode: Literal["standard", "adaptive", "legacy"] = Field(
        "standard", validation_alias="AWS_RETRY_MODE"
    )
    aws_max_attempts: int = Field(4, ge=1, le=20, validation_alias="AWS_MAX_ATTEMPTS")
    # The signing key and bootstrap admin key: from Secrets Manager when an ARN is given (cached
    # for secrets_ttl seconds), else from the two variables after it.
    secret_arn: str | None = Field(None, validation_alias="IMAGE_SERVICE_SECRET_ARN")
    secrets_ttl: float = Field(300.0, ge=0, validation_alias="IMAGE_SERVICE_SECRETS_TTL")
    signing_key: SecretStr | None = Field(None, validation_alias="IMAGE_SERVICE_SIGNING_KEY")
    admin_key: SecretStr | None = Field(None, validation_alias="IMAGE_SERVICE_ADMIN_KEY")
    # Content larger than this is answered with a 302 to a presigned URL (Lambda's response limit).
    max_inline_bytes: int | None = Field(None, ge=1, validation_alias="IMAGE_SERVICE_MAX_INLINE_BYTES")
    # Behind API Gateway with a custom domain's base path mapping: the prefix to strip.
    base_path: str = Field("/", validation_alias="IMAGE_SERVICE_BASE_PATH")

    presigned_url_expiration: int = Field(3600, ge=1, le=604800, validation_alias="PRESIGNED_URL_EXPIRATION")
    max_image_size: int = Field(10 * 1024 * 1024, ge=1, le=5 * 1024**3, validation_alias="MAX_IMAGE_SIZE")
    max_image_pixels: int = Field(50_000_000, ge=1, le=1_000_000_000, validation_alias="MAX_IMAGE_PIXELS")
    # Animations with more frames are refused from the header (413), before any frame is decoded.
    max_image_frames: int = Field(1000, ge=1, le=100_000, validation_alias="MAX_IMAGE_FRAMES")
    # Pixels that decoding and rendering may hold at once, over all requests of the process;
    # more wait their turn (imaging/budget.py). An image larger than the budget runs alone.
    pixel_budget: int = Field(
        100_000_000, ge=1, le=10_000_000_000, validation_alias="IMAGE_SERVICE_PIXEL_BUDGET"
    )
    # What leaves an uploaded original (imaging/metadata.py): its location, every metadata block
    # but orientation and colour profile, or nothing.
    strip_metadata: Literal["location", "all", "none"] = Field(
        "location", validation_alias="IMAGE_SERVICE_STRIP_METADATA"
    )
    # The rendition sizes (w and h) a client may ask for; anything else is 400.
    rendition_sizes: Annotated[tuple[int, ...], NoDecode] = Field(
        (64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096),
        validation_alias="IMAGE_SERVICE_RENDITION_SIZES",
    )
    # format=auto offers AVIF to browsers that accept it (slower to encode than WebP).
    auto_avif: bool = Field(False, validation_alias="IMAGE_SERVICE_AUTO_AVIF")
    # `serve` only (api/connection_limits.py): seconds a client has for a request's headers, then
    # for its body; connections open at once (default: half the open-files limit, ulimit -n).
    header_timeout: float = Field(10.0, gt=0, le=3600, validation_alias="IMAGE_SERVICE_HEADER_TIMEOUT")
    body_timeout: float = Field(60.0, gt=0, le=86400, validation_alias="IMAGE_SERVICE_BODY_TIMEOUT")
    max_connections: int | None = Field(
        None, ge=1, le=1_000_000, validation_alias="IMAGE_SERVICE_MAX_CONNECTIONS"
    )

    # Behind nginx (api/accel.py): the prefix of nginx's internal location for the data dir's
    # blobs/, e.g. /_accel/. The content routes then answer with headers and X-Accel-Redirect, and
    # nginx sends the file. The embedded backend only (its objects are files).
    accel_redirect: str | None = Field(None, validation_alias="IMAGE_SERVICE_ACCEL_REDIRECT")

    @classmethod
    def with_fields(cls, **values: object) -> Settings:
        """The environment's settings with some fields given by their Python names (the CLI's
        options, benchmarks): each is passed under its documented variable name."""
        by_alias: dict[str, Any] = {}
        for name, value in values.items():
            alias = cls.model_fields[name].validation_alias
            if isinstance(alias, AliasChoices):
                alias = alias.choices[0]
            assert isinstance(alias, str), name
            by_alias[alias] = value
        return cls(**by_alias)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        origins = tuple(o.strip() for o in value.split(",") if o.strip())
        for origin in origins:
            # A trailing slash or a path never equals a browser's Origin: refuse it, not ignore it.
            if origin != "*" and not ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin: scheme://host[:port], without a path")
        return origins

    @field_validator("rendition_sizes", mode="before")
    @classmethod
    def _sizes(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = tuple(int(v) for v in value.split(",") if v.strip())
            except ValueError:
                raise ValueError("IMAGE_SERVICE_RENDITION_SIZES is comma-separated pixel sizes") from None
        if isinstance(value, tuple | list):
            if not value or any(not 1 <= int(v) <= 16384 for v in value):
                raise ValueError("rendition sizes are 1 to 16384 pixels, at least one")
            return tuple(sorted({int(v) for v in value}))
        return value

    @field_validator("accel_redirect", mode="after")
    @classmethod
    def _accel_prefix(cls, value: str | None) -> str | None:
        if value and not ACCEL_PREFIX.fullmatch(value):  # "" is unset
            raise ValueError(f"{value!r} is not a location prefix: /name/ (letters, digits, . _ - ~)")
        return value or None

    @model_validator(mode="after")
    def _accel_backend(self) -> Settings:
        if self.accel_redirect and self.backend != "local":
            raise ValueError("IMAGE_SERVICE_ACCEL_REDIRECT needs the local backend: nginx sends files")
        return self

    @model_validator(mode="after")
    def _endpoint(self) -> Settings:
        if self.use_localstack and not self.aws_endpoint_url:
            self.aws_endpoint_url = "http://localhost:4566"
        return self
