"""The settings every service has; each tier's settings class adds its own and its prefix."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings


class ServiceSettings(BaseSettings):
    """Environment, database pool, broker and logging of a service's processes.

    A tier subclasses it with its ``env_prefix``, its ``database_url`` and its own settings,
    and names the secrets still at their development values in
    :meth:`secrets_left_at_development_values`: ``production`` refuses to start with any.
    """

    environment: Literal["development", "production"] = Field(
        "development", description="`production` refuses the built-in development secrets."
    )
    database_pool_size: int = Field(20, ge=1, description="Connections kept per process.")
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Redis URL used as the Celery broker."
    )
    broker_visibility_timeout_seconds: float = Field(
        300.0,
        gt=0,
        description=(
            "How long Redis keeps a task message that a worker took but never acknowledged "
            "before handing it to another worker (a worker killed with a task reserved). Keep "
            "it longer than the longest task runs, or a task still waiting in a busy worker "
            "is handed out twice; the work itself is found again from the database sooner."
        ),
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description=(
            "Serve Prometheus's `/metrics` on this port of its own (every address) instead of "
            "on the API listener, so it stays off the public one. Unset: on the API listener."
        ),
    )
    worker_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description=(
            "Port on which a Celery worker serves `/metrics`; unset: the worker serves none."
        ),
    )
    otlp_endpoint: str | None = Field(
        None,
        description=(
            "OpenTelemetry collector's OTLP/HTTP base URL (`http://collector:4318`) to which "
            "the process sends its trace spans. Unset: spans are not exported, but trace ids "
            "still travel with webhooks, tasks and reports and appear in every log line."
        ),
    )
    log_level: str = Field("INFO", description="Log level.")
    log_json: bool = Field(True, description="Log JSON lines (false: human-readable console).")

    def secrets_left_at_development_values(self) -> list[str]:
        """The variables of secrets that still hold a development value (none by default)."""
        return []

    @model_validator(mode="after")
    def _refuse_development_secrets(self) -> Self:
        if self.environment == "production":
            for variable in self.secrets_left_at_development_values():
                raise ValueError(f"{variable} must be set in production")
        return self


class SmtpSettings(BaseSettings):
    """The SMTP server a service sends its email through (its sender is the tier's own)."""

    smtp_host: str = Field("127.0.0.1", description="SMTP server the email is sent through.")
    smtp_port: int = Field(25, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP user, when the server wants one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Use STARTTLS.")
