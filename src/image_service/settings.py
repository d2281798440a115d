"""Typed settings read from the environment once, at start-up; unsafe values fail fast."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    backend: Literal["local", "aws"] = Field("local", validation_alias="IMAGE_SERVICE_BACKEND")
    data_dir: Path = Field(Path("./data"), validation_alias="IMAGE_SERVICE_DATA_DIR")
    auth: Literal["api-key", "none"] = Field("api-key", validation_alias="IMAGE_SERVICE_AUTH")
    public_url: str = Field("", validation_alias="IMAGE_SERVICE_PUBLIC_URL")
    log_level: str = Field("INFO", validation_alias="IMAGE_SERVICE_LOG_LEVEL")

    bucket_name: str | None = Field(None, validation_alias=AliasChoices("BUCKET_NAME", "S3_BUCKET_NAME"))
    table_name: str | None = Field(None, validation_alias=AliasChoices("TABLE_NAME", "DYNAMODB_TABLE_NAME"))
    aws_region: str = Field("us-east-1", validation_alias="AWS_DEFAULT_REGION")
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    use_localstack: bool = Field(False, validation_alias="USE_LOCALSTACK")

    presigned_url_expiration: int = Field(3600, ge=1, le=604800, validation_alias="PRESIGNED_URL_EXPIRATION")
    max_image_size: int = Field(10 * 1024 * 1024, ge=1, le=5 * 1024**3, validation_alias="MAX_IMAGE_SIZE")
    max_image_pixels: int = Field(50_000_000, ge=1, le=1_000_000_000, validation_alias="MAX_IMAGE_PIXELS")

    @model_validator(mode="after")
    def _endpoint(self) -> Settings:
        if self.use_localstack and not self.aws_endpoint_url:
            self.aws_endpoint_url = "http://localhost:4566"
        return self
