"""GCC settings: one class, environment prefix ``GCC_``."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
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
    s3_max_attempts: int = Field(
        5,
        ge=1,
        le=20,
        description="Tries of each bucket request, the first included, before it fails (a "
        "request then answers 503 `storage_unavailable`).",
    )
    ci_token: SecretStr = Field(
        SecretStr(DEVELOPMENT_CI_TOKEN), description="Bearer token of the CI (Jenkins)."
    )
    operator_token: SecretStr = Field(
        SecretStr(DEVELOPMENT_OPERATOR_TOKEN), description="Bearer token of the operators."
    )
    artifact_retention: int = Field(
        20, ge=1, description="Artifact versions kept per type (helm, compose)."
    )
    orphan_artifact_age: timedelta = Field(
        timedelta(hours=24),
        description="How long an uploaded artifact whose release was never created is kept "
        "before beat deletes it (spec error 1.2); orphans never count toward the retention.",
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
    webhook_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=30,
        description="Total time one webhook POST may take, connection included (Standard "
        "Webhooks: 30 s at most); a receiver slower than this is retried later.",
    )
    webhook_connect_timeout_seconds: float = Field(
        5.0, gt=0, le=30, description="Time to open the connection of one webhook POST."
    )
    webhook_max_attempts: int = Field(
        3, ge=1, description="Delivery attempts per target before it is marked webhookFailed."
    )
    webhook_retry_delay_seconds: float = Field(
        60.0,
        ge=0,
        description="Wait between two delivery attempts of one target (a Retry-After answered "
        "with 429 or 503 is honoured instead, up to an hour).",
    )
    delivery_concurrency: int = Field(
        100,
        ge=1,
        description="First deliveries in flight at once in one worker process's delivery pump.",
    )
    delivery_retry_concurrency: int = Field(
        20,
        ge=1,
        description="Retries in flight at once in one worker process's delivery pump, beside "
        "the first deliveries: a receiver that timed out never delays the others.",
    )
    delivery_per_host_limit: int = Field(
        20,
        ge=1,
        description="Webhook requests in flight at once to one receiver (scheme, host and "
        "port) from one worker process.",
    )
    delivery_slow_after_seconds: float = Field(
        2.0,
        gt=0,
        description="A webhook request not answered within this gives its slot back and "
        "waits for its answer (or its timeout) as a slow request, so slow receivers never "
        "hold the slots of others.",
    )
    delivery_slow_limit: int = Field(
        1000,
        ge=0,
        description="Slow requests one worker process's delivery pump keeps waiting at once "
        "(each holds a connection); beyond it a slow request keeps its slot.",
    )
    delivery_lease_seconds: float = Field(
        15.0,
        gt=0,
        description="How long a claimed delivery is reserved; the pump renews the lease while "
        "the request is in flight, so a killed worker's deliveries are claimed again this soon.",
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
    rollout_rings: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["canary", "early", "general"],
        description="Comma-separated rollout rings an organization may belong to, earliest "
        "first; a rollout plan's waves name them. New organizations join `general` (add it "
        "when you replace the list).",
    )
    rollout_interval_seconds: float = Field(
        60.0, gt=0, description="How often beat evaluates the gates of running rollouts."
    )
    manifest_signing_keys: Path | None = Field(
        None,
        description="Ed25519 private key(s) that sign release manifests: a PEM file, or a "
        "directory of PEM files such as a mounted Kubernetes Secret (`gcc keys generate` "
        "writes one). Unset: releases are published without a manifest, which backends refuse "
        "unless they allow unsigned releases; refused outside local development.",
    )
    manifest_signing_key_id: str | None = Field(
        None,
        description="Id of the key that signs when `GCC_MANIFEST_SIGNING_KEYS` holds several "
        "(during a rotation); unset: the only key, or the first file by name.",
    )
    manifest_validity: timedelta = Field(
        timedelta(days=14),
        gt=timedelta(0),
        description="How long a signed manifest is valid; a manifest sent (webhook, updates "
        "poll, download) with less than half of it left, or signed by another key than the "
        "signing one, is signed afresh.",
    )
    smtp_from: str = Field("gcc@wrktalk.local", description="Sender address of GCC emails.")
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses that receive every new escalation.",
    )

    console_url: str = Field(
        "http://127.0.0.1:8000/console",
        description="Public address of the operator console, as operators reach it; sign-in "
        "emails link there (never taken from a request's Host header).",
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

    @model_validator(mode="before")
    @classmethod
    def _split_admin_emails(cls, data: object) -> object:
        if isinstance(data, dict):
            raw = data.get("admin_emails")
            if isinstance(raw, str):
                data["admin_emails"] = [part.strip() for part in raw.split(",") if part.strip()]
        return data

    @model_validator(mode="before")
    @classmethod
    def _split_rollout_rings(cls, data: object) -> object:
        if isinstance(data, dict):
            raw = data.get("rollout_rings")
            if isinstance(raw, str):
                data["rollout_rings"] = [part.strip() for part in raw.split(",") if part.strip()]
        return data

    @model_validator(mode="after")
    def _region_from_aws_environment(self) -> Settings:
        if not self.s3_region:
            self.s3_region = (
                os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
            )
        return self

    def secrets_left_at_development_values(self) -> list[str]:
        """The CI and operator tokens, while they are the built-in development ones; the
        manifest signing keys while unset."""
        development = {
            "GCC_CI_TOKEN": self.ci_token.get_secret_value() == DEVELOPMENT_CI_TOKEN,
            "GCC_OPERATOR_TOKEN": (
                self.operator_token.get_secret_value() == DEVELOPMENT_OPERATOR_TOKEN
            ),
            "GCC_MANIFEST_SIGNING_KEYS": self.manifest_signing_keys is None,
        }
        return [variable for variable, is_development in development.items() if is_development]


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
