"""GCC settings: one class, environment prefix ``GCC_``."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from servicekit.settings import ServiceSettings, SmtpSettings

DEVELOPMENT_CI_TOKEN = "dev-ci-token"  # noqa: S105 - refused outside development
DEVELOPMENT_OPERATOR_TOKEN = "dev-operator-token"  # noqa: S105 - refused outside development


class Settings(ServiceSettings, SmtpSettings):
    """Everything the GCC processes read from the environment."""

    model_config = SettingsConfigDict(env_prefix="GCC_", extra="ignore")

    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/gcc",
        description="SQLAlchemy URL of the GCC PostgreSQL database (asyncpg driver).",
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint (MinIO, GCS interop); unset for AWS itself."
    )
    s3_region: str = Field(
        "",
        description="Region of the artifact bucket; unset: `AWS_REGION`, else "
        "`AWS_DEFAULT_REGION`, else us-east-1.",
    )
    bucket_name: str = Field("gcc-wrktalk-artifacts", description="Bucket holding the artifacts.")
    ci_token: SecretStr = Field(
        SecretStr(DEVELOPMENT_CI_TOKEN), description="Bearer token of the CI (Jenkins)."
    )
    operator_token: SecretStr = Field(
        SecretStr(DEVELOPMENT_OPERATOR_TOKEN), description="Bearer token of the operators."
    )
    artifact_retention: int = Field(
        20, ge=1, description="Artifact versions kept per type (helm, compose)."
    )
    max_artifact_bytes: int = Field(
        1024 * 1024 * 1024, ge=1, description="Largest artifact upload accepted, in bytes."
    )
    allow_http_webhooks: bool = Field(
        False, description="Accept plain-http webhook endpoints (test and local stacks only)."
    )
    secret_rotation_grace: timedelta = Field(
        timedelta(hours=24),
        description="How long webhooks are also signed with the previous secret after rotation.",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one webhook POST.")
    webhook_max_attempts: int = Field(
        3, ge=1, description="Delivery attempts per target before it is marked webhookFailed."
    )
    webhook_retry_delay_seconds: float = Field(
        60.0, ge=0, description="Wait between two delivery attempts of one target."
    )
    delivery_batch_size: int = Field(500, ge=1, description="Targets handled by one delivery task.")
    delivery_concurrency: int = Field(
        100, ge=1, description="Webhook requests in flight at once within one delivery task."
    )
    delivery_lease_seconds: float = Field(
        120.0,
        gt=0,
        description="How long a claimed batch is reserved before beat hands it out again "
        "(a worker killed mid-batch loses nothing).",
    )
    dispatch_interval_seconds: float = Field(
        5.0, gt=0, description="How often beat looks for due webhook deliveries."
    )
    health_interval_seconds: float = Field(
        60.0, gt=0, description="How often beat classifies organization health."
    )
    forced_deadline: timedelta = Field(
        timedelta(hours=24),
        description="How long after publishing a forced release must be deployed.",
    )
    smtp_from: str = Field("gcc@wrktalk.local", description="Sender address of GCC emails.")
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses that receive every new escalation.",
    )

    @model_validator(mode="before")
    @classmethod
    def _split_admin_emails(cls, data: object) -> object:
        if isinstance(data, dict):
            raw = data.get("admin_emails")
            if isinstance(raw, str):
                data["admin_emails"] = [part.strip() for part in raw.split(",") if part.strip()]
        return data

    @model_validator(mode="after")
    def _region_from_aws_environment(self) -> Settings:
        if not self.s3_region:
            self.s3_region = (
                os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
            )
        return self

    def secrets_left_at_development_values(self) -> list[str]:
        """The CI and operator tokens, while they are the built-in development ones."""
        development = {
            "GCC_CI_TOKEN": self.ci_token.get_secret_value() == DEVELOPMENT_CI_TOKEN,
            "GCC_OPERATOR_TOKEN": (
                self.operator_token.get_secret_value() == DEVELOPMENT_OPERATOR_TOKEN
            ),
        }
        return [variable for variable, is_development in development.items() if is_development]


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
