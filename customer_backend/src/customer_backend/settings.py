"""Customer backend settings: one class, environment prefix ``WRKTALK_``."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from contracts import DeploymentType
from servicekit.settings import ServiceSettings, SmtpSettings
from signing import decode_secret, parse_trusted_key_setting

DEVELOPMENT_AGENT_SECRET = "dev-agent-secret"  # noqa: S105 - refused outside development


class Settings(ServiceSettings, SmtpSettings):
    """Everything the customer backend processes read from the environment."""

    # a validation error must not quote the values read: they hold the secrets
    model_config = SettingsConfigDict(
        env_prefix="WRKTALK_", extra="ignore", hide_input_in_errors=True
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
    gcc_endpoint: str = Field("http://127.0.0.1:8000", description="Base URL of GCC.")
    gcc_api_key: SecretStr = Field(SecretStr(""), description="This organization's API key at GCC.")
    gcc_poll_interval: float = Field(
        300.0, gt=0, description="Seconds between two polls of GCC's updates endpoint."
    )
    heartbeat_enabled: bool = Field(
        True,
        description="Send GCC a heartbeat every `WRKTALK_GCC_POLL_INTERVAL` (spec 13 "
        "`heartbeatEnabled`). Off: no heartbeats; each poll of GCC says so, and GCC shows this "
        "installation's health as `unknown` instead of raising it as offline.",
    )
    air_gapped: bool = Field(
        False,
        description="Run with no network path to GCC. On: GCC is never polled or sent a "
        "heartbeat, and deployment status reports are kept in the outbox (the Control Tower's "
        "Overview counts them) instead of sent; releases arrive as offline bundles "
        "(`customer-backend release import`, or the Releases page). The webhook secret and the "
        "GCC API key are then not required. Off again, the kept reports are sent in order.",
    )
    webhook_secret: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Webhook secret(s) GCC signs with; several comma-separated during rotation.",
    )
    agent_secret: SecretStr = Field(
        SecretStr(DEVELOPMENT_AGENT_SECRET),
        description="Shared secret the agent presents in X-Agent-Secret.",
    )
    app_config_token: SecretStr = Field(
        SecretStr(""),
        description="Bearer token the WrkTalk application presents to read its non-essential "
        "settings at `GET /api/app/config`; unset: that route refuses every caller.",
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
    bucket_max_attempts: int = Field(
        5,
        ge=1,
        le=20,
        description="Tries of each bucket request, the first included, before it fails.",
    )
    staging_directory: str = Field(
        "var/staging",
        description="Directory where a downloaded and verified artifact waits until the bucket "
        "stores it; while the bucket refuses it, beat tries again every "
        "`WRKTALK_DOWNLOAD_RETRY_INTERVAL_SECONDS`. Keep it on a persistent volume: a worker "
        "that does not find the file downloads it from GCC again.",
    )
    artifact_retention: int = Field(10, ge=1, description="Artifact versions kept per type.")
    schedule_grace_minutes: int = Field(
        15,
        ge=1,
        description="Minutes after its scheduled time a deployment may still start; later it "
        "becomes `missedSchedule` and must be rescheduled.",
    )
    task_timeout_minutes: float = Field(
        30.0,
        gt=0,
        description="Minutes an in-progress task may go without pick-up or agent heartbeat "
        "before it is failed with 'Task timeout - no heartbeat received'.",
    )
    timeline_interval_seconds: float = Field(
        60.0,
        gt=0,
        description="Seconds between two runs of the timelines (task timeout, missed schedule, "
        "forced-update reminders and deadline) and of the download retries.",
    )
    download_retry_base_seconds: float = Field(
        2.0,
        ge=0,
        description="Wait before the second try of an artifact download; doubled before the "
        "third (three tries per round).",
    )
    download_retry_interval_seconds: float = Field(
        900.0,
        gt=0,
        description="Seconds after a failed download round (three tries) before the worker "
        "tries that release again.",
    )
    license_expires_at: AwareDatetime | None = Field(
        None,
        description="When this installation's license expires (ISO 8601 with a time zone); "
        "after it, release webhooks are refused with 403. Unset: the license does not expire.",
    )
    manifest_trusted_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Public keys whose signed release manifests are accepted, comma-separated, "
        "each `ed25519:<base64>` as `gcc keys generate` prints it; two during a key rotation.",
    )
    allow_unsigned_releases: bool = Field(
        False,
        description="Accept a release that comes without a signed manifest (one published "
        "before GCC signed manifests). Off: such a release is refused, logged and reported to "
        "the admins. A manifest that is present is always verified.",
    )
    smtp_from: str = Field("deployments@wrktalk.local", description="Sender of admin emails.")
    console_url: str = Field(
        "http://127.0.0.1:3000/console",
        description="Public address of the Control Tower console, as admins reach it; the links "
        "in sign-in emails start with it (never taken from a request's Host header).",
    )
    console_plain_http: bool = Field(
        False,
        description="Set the console's cookies without `Secure`, for a console reached over "
        "plain HTTP in development. Leave off in production: the console belongs behind HTTPS.",
    )
    console_idle_hours: float = Field(
        8.0, gt=0, description="Hours a console session may go unused before it ends."
    )
    console_link_minutes: float = Field(
        15.0, gt=0, description="Minutes a one-time sign-in link stays valid."
    )

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _split_webhook_secrets(cls, value: str | SecretStr | list[str | SecretStr]) -> list[str]:
        """A comma-separated text (the variable, a secrets file) or a list, without blanks."""
        if isinstance(value, str | SecretStr):
            value = list(_text_of(value).split(","))
        return [text for item in value if (text := _text_of(item).strip())]

    @field_validator("webhook_secret", mode="after")
    @classmethod
    def _decode_webhook_secrets(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        """Refuse at start a secret nothing could be verified with."""
        for position, secret in enumerate(secrets, start=1):
            try:
                decode_secret(secret.get_secret_value())
            except ValueError:
                raise ValueError(
                    f"webhook secret {position} of {len(secrets)} is not base64 "
                    "(expected whsec_ followed by base64)"
                ) from None
        return secrets

    @field_validator("manifest_trusted_keys", mode="before")
    @classmethod
    def _parse_trusted_keys(cls, value: str | list[str]) -> list[str]:
        """Comma-separated keys; a key no manifest could be verified with is refused at start."""
        return parse_trusted_key_setting(value)

    def secrets_left_at_development_values(self) -> list[str]:
        """The agent secret while it is the built-in one; the webhook secret and the GCC API
        key while they are unset (unless air-gapped: then neither is used)."""
        development = {
            "WRKTALK_AGENT_SECRET": (
                self.agent_secret.get_secret_value() == DEVELOPMENT_AGENT_SECRET
            ),
            "WRKTALK_WEBHOOK_SECRET": not self.webhook_secret and not self.air_gapped,
            "WRKTALK_GCC_API_KEY": not self.gcc_api_key.get_secret_value() and not self.air_gapped,
        }
        return [variable for variable, is_development in development.items() if is_development]


def _text_of(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


SECRETS_DIR_VARIABLE = "WRKTALK_SECRETS_DIR"
"""Names a directory of files, one per setting (``wrktalk_gcc_api_key``,
``wrktalk_webhook_secret``, ...), each holding that setting's value: how Docker and Kubernetes
secrets mounted as files reach the settings. An environment variable of the same name wins."""


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment (and the secrets directory)."""
    secrets_dir = os.environ.get(SECRETS_DIR_VARIABLE) or None
    if secrets_dir is not None and not Path(secrets_dir).is_dir():
        raise ValueError(f"{SECRETS_DIR_VARIABLE}={secrets_dir} is not a directory")
    return Settings(_secrets_dir=secrets_dir)
