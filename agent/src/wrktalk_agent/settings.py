"""Agent settings: the seeds' names, environment prefix ``WRKTALK_AGENT_``."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import DeploymentType


class Settings(BaseSettings):
    """Everything the agent reads from the environment. The agent holds no database or bucket
    credentials: tasks carry presigned URLs."""

    model_config = SettingsConfigDict(env_prefix="WRKTALK_AGENT_", extra="ignore")

    backend_url: str = Field("http://localhost:3000", description="Customer backend base URL.")
    backend_timeout: float = Field(30.0, gt=0, description="Timeout of one backend request.")
    agent_secret: SecretStr = Field(
        SecretStr(""), description="Shared secret sent as X-Agent-Secret."
    )
    deployment_type: DeploymentType = Field(
        DeploymentType.KUBERNETES, description="kubernetes, docker or gitops."
    )
    poll_interval: float = Field(30.0, gt=0, description="Seconds between two polls.")
    heartbeat_interval: float = Field(
        60.0, gt=0, description="Seconds between two task heartbeats."
    )
    kube_namespace: str = Field("wrktalk", description="Kubernetes namespace of the release.")
    helm_release_name: str = Field("wrktalk", description="Helm release name.")
    helm_timeout: str = Field("10m", description="Helm --timeout.")
    compose_project_name: str = Field("wrktalk", description="Docker Compose project name.")
    compose_working_dir: str = Field(
        "/tmp/wrktalk",  # noqa: S108 - the seeds' default; the agent makes it private
        description="Directory the Compose bundle is extracted into.",
    )
    gitops_repo: str | None = Field(None, description="Git working copy for gitops delivery.")
    gitops_path: str = Field("wrktalk", description="Directory inside the Git working copy.")
    maintenance_flag_file: str | None = Field(
        None, description="File created while a deployment runs (maintenance mode)."
    )
    maintenance_command: str | None = Field(
        None, description="Command run after switching maintenance mode (e.g. nginx -s reload)."
    )
    log_level: str = Field("INFO", description="Log level.")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
