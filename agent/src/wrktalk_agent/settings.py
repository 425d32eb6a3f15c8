"""Agent settings: the seeds' names, environment prefix ``WRKTALK_AGENT_``."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contracts import DeploymentType
from signing import parse_trusted_key_setting


class Settings(BaseSettings):
    """Everything the agent reads from the environment. The agent holds no database or bucket
    credentials: tasks carry presigned URLs."""

    model_config = SettingsConfigDict(env_prefix="WRKTALK_AGENT_", extra="ignore")

    backend_url: str = Field("http://localhost:3000", description="Customer backend base URL.")
    backend_timeout: float = Field(30.0, gt=0, description="Timeout of one backend request.")
    agent_secret: SecretStr = Field(
        SecretStr(""),
        description="Shared secret sent as X-Agent-Secret; the agent refuses to start without it.",
    )
    deployment_type: DeploymentType = Field(
        DeploymentType.KUBERNETES, description="kubernetes, docker or gitops."
    )
    poll_interval: float = Field(30.0, gt=0, description="Seconds between two polls.")
    poll_jitter: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Fraction of the poll interval added or removed at random, so that agents "
        "restarted together do not poll in step.",
    )
    backoff_max: float = Field(
        300.0,
        gt=0,
        description="Longest wait, in seconds, between two polls while the backend cannot be "
        "reached; the wait doubles from the poll interval up to this, with jitter.",
    )
    heartbeat_interval: float = Field(
        60.0, gt=0, description="Seconds between two task heartbeats."
    )
    log_batch_interval: float = Field(
        1.0,
        gt=0,
        description="Seconds between two batches of task output sent to the backend.",
    )
    report_attempts: int = Field(
        5,
        ge=1,
        description="Attempts at reporting a task's outcome before giving up (the backend's "
        "task timeout then decides).",
    )
    shutdown_grace_period: float = Field(
        25.0,
        ge=0,
        description="Seconds the running step of a task may go on after SIGTERM or SIGINT "
        "before its command is killed; keep it below the pod's terminationGracePeriodSeconds.",
    )
    command_timeout: float = Field(
        900.0,
        gt=0,
        description="Longest a single command other than helm upgrade or rollback may run "
        "(docker compose, git, helm template, the maintenance command), in seconds.",
    )
    temp_dir: str | None = Field(
        None,
        description="Directory for each task's private temporary directory (mode 0700); "
        "the system's temporary directory when unset.",
    )
    kube_namespace: str = Field("wrktalk", description="Kubernetes namespace of the release.")
    helm_release_name: str = Field("wrktalk", description="Helm release name.")
    helm_timeout: str = Field(
        "10m",
        pattern=r"^(\d+(\.\d+)?(h|m|s|ms))+$",
        description="Helm --timeout, a Go duration such as 10m or 1h30m; the agent allows "
        "helm a minute more before killing it.",
    )
    helm_binary: str = Field("helm", description="The helm executable (kubernetes, gitops).")
    helm_dry_run: bool = Field(
        False,
        description="Rehearse: add --dry-run=client to helm upgrade, so the command, chart and "
        "values are checked by helm but nothing reaches a cluster.",
    )
    compose_project_name: str = Field("wrktalk", description="Docker Compose project name.")
    compose_working_dir: str = Field(
        "/tmp/wrktalk",  # noqa: S108 - the seeds' default; the agent makes it private
        description="Directory the Compose bundles are extracted into, one fresh directory "
        "per deployment under releases/ (mode 0700).",
    )
    compose_wait_timeout: float = Field(
        120.0,
        gt=0,
        description="Seconds to wait after docker compose up for every container to be "
        "running and, where it has a healthcheck, healthy.",
    )
    compose_redeploy_previous: bool = Field(
        True,
        description="When a Compose deployment fails after `up`, re-deploy the version that "
        "ran before (a deliberate difference from spec 4.6 and 9.2, which say no "
        "auto-rollback). Off: the failure is reported as it is and an admin must check the "
        "project's state and roll back by hand.",
    )
    compose_settle_period: float = Field(
        5.0,
        ge=0,
        description="Seconds every container must stay up once all are, so a container that "
        "dies right after starting fails the deployment.",
    )
    bundle_max_files: int = Field(
        2000, ge=1, description="Most entries a Compose bundle may hold; more is refused."
    )
    bundle_max_bytes: int = Field(
        100 * 1024 * 1024,
        ge=1,
        description="Largest total size of a Compose bundle's files once extracted, in bytes.",
    )
    gitops_repo: str | None = Field(
        None, description="Git working copy for gitops delivery (required for gitops)."
    )
    gitops_path: str = Field(
        "wrktalk",
        description="Directory inside the Git working copy that receives the rendered "
        "manifests; the agent replaces its whole content on each deployment.",
    )
    gitops_remote: str = Field(
        "origin",
        description="Git remote the commit is pushed to; pushing is skipped when the working "
        "copy has no such remote.",
    )
    gitops_author_name: str | None = Field(
        None,
        description="Author name of gitops commits; unset: the working copy's Git "
        "configuration (user.name), or WrkTalk Agent when it has none.",
    )
    gitops_author_email: str | None = Field(
        None,
        description="Author email of gitops commits; unset: the working copy's Git "
        "configuration (user.email), or agent@wrktalk.invalid when it has none.",
    )
    maintenance_flag_file: str | None = Field(
        None,
        description="File created while a deployment runs (maintenance mode) and removed "
        "after it, whatever happened, unless an admin holds maintenance mode on; also what an "
        "admin's switch (PUT /api/admin/maintenance) creates or removes.",
    )
    maintenance_command: str | None = Field(
        None,
        description="Command run after switching maintenance mode on and again after "
        "switching it off, around a deployment or for an admin's switch (e.g. nginx -s "
        "reload); split like a shell would, not run by one.",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Serve Prometheus's `/metrics` on this port; unset: no listener.",
    )
    metrics_address: str = Field(
        "0.0.0.0",
        description="Address the metrics port listens on.",
    )
    metrics_textfile: str | None = Field(
        None,
        description=(
            "When no metrics port is set: a `.prom` file rewritten after every poll, for "
            "node exporter's textfile collector. Unset: none."
        ),
    )
    manifest_trusted_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Public keys whose signed release manifests the agent accepts, "
        "comma-separated, each `ed25519:<base64>` as `gcc keys generate` prints it; set at "
        "install and never taken from the backend. Two during a key rotation.",
    )
    allow_unsigned_releases: bool = Field(
        False,
        description="Run a release that comes without a signed manifest (one published before "
        "GCC signed manifests). Off: such a task fails. A manifest that is present is always "
        "verified.",
    )
    state_dir: str = Field(
        "/var/lib/wrktalk-agent",
        description="Directory of the agent's own state: the versions this installation has "
        "run, which decide whether an older version may be deployed (only as a rollback to a "
        "version run before). Keep it on a persistent volume.",
    )
    otlp_endpoint: str | None = Field(
        None,
        description=(
            "OpenTelemetry collector's OTLP/HTTP base URL (`http://collector:4318`) to which "
            "the agent sends its trace spans. Unset: spans are not exported, but each task's "
            "trace id still goes to the backend with its reports and into every log line."
        ),
    )
    log_level: str = Field("INFO", description="Log level.")
    log_json: bool = Field(True, description="Log one JSON object per line (false: for humans).")

    @field_validator("manifest_trusted_keys", mode="before")
    @classmethod
    def _parse_trusted_keys(cls, value: str | list[str]) -> list[str]:
        """Comma-separated keys; a key no manifest could be verified with is refused at start."""
        return parse_trusted_key_setting(value)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
