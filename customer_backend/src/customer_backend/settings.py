"""Customer backend settings: one class, environment prefix ``WRKTALK_``."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import DeploymentType

DEVELOPMENT_AGENT_SECRET = "dev-agent-secret"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    """Everything the customer backend processes read from the environment."""

    model_config = SettingsConfigDict(env_prefix="WRKTALK_", extra="ignore")

    environment: Literal["development", "production"] = Field(
        "development", description="`production` refuses the built-in development secrets."
    )
    organization_name: str = Field(
        "customer-local", description="This installation's organization name at GCC."
    )
    deployment_type: DeploymentType = Field(
        DeploymentType.KUBERNETES,
        description="kubernetes (Helm), docker (Compose) or gitops (rendered chart in Git).",
    )
    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/wrktalk",
        description="SQLAlchemy URL of the backend's PostgreSQL database (asyncpg driver).",
    )
    database_pool_size: int = Field(20, ge=1, description="Connections kept per process.")
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Redis URL used as the Celery broker."
    )
    gcc_endpoint: str = Field("http://127.0.0.1:8000", description="Base URL of GCC.")
    gcc_api_key: SecretStr = Field(SecretStr(""), description="This organization's API key at GCC.")
    gcc_poll_interval: float = Field(
        300.0, gt=0, description="Seconds between two polls of GCC's updates endpoint."
    )
    webhook_secret: SecretStr = Field(
        SecretStr(""),
        description="Webhook secret(s) GCC signs with; several comma-separated during rotation.",
    )
    agent_secret: SecretStr = Field(
        SecretStr(DEVELOPMENT_AGENT_SECRET),
        description="Shared secret the agent presents in X-Agent-Secret.",
    )
    bucket_provider: Literal["s3", "minio", "gcs", "filesystem"] = Field(
        "s3", description="Object storage: any S3-compatible service, or a local directory."
    )
    bucket_name: str = Field("customer-wrktalk", description="Bucket of this installation.")
    bucket_region: str = Field("us-east-1", description="Region of the bucket.")
    bucket_endpoint: str | None = Field(
        None, description="S3-compatible endpoint (MinIO, GCS interop); unset for AWS."
    )
    bucket_root: str = Field(
        "var/bucket", description="Directory of the bucket when the provider is `filesystem`."
    )
    artifact_retention: int = Field(10, ge=1, description="Artifact versions kept per type.")
    smtp_host: str = Field("127.0.0.1", description="SMTP server for admin emails.")
    smtp_port: int = Field(25, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP user, when the server wants one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Use STARTTLS.")
    smtp_from: str = Field("deployments@wrktalk.local", description="Sender of admin emails.")
    log_level: str = Field("INFO", description="Log level.")
    log_json: bool = Field(True, description="Log JSON lines (false: human-readable console).")

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment == "production":
            if self.agent_secret.get_secret_value() == DEVELOPMENT_AGENT_SECRET:
                raise ValueError("WRKTALK_AGENT_SECRET must be set in production")
            if not self.webhook_secret.get_secret_value():
                raise ValueError("WRKTALK_WEBHOOK_SECRET must be set in production")
            if not self.gcc_api_key.get_secret_value():
                raise ValueError("WRKTALK_GCC_API_KEY must be set in production")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
