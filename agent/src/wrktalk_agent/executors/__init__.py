"""Executors: Helm (kubernetes), Docker Compose (docker) and GitOps, behind one interface."""

from __future__ import annotations

from contracts import DeploymentType
from wrktalk_agent.executors.base import (
    CheckLine,
    ExecutionContext,
    Executor,
    LocalRelease,
    RollbackTarget,
)
from wrktalk_agent.executors.compose import ComposeExecutor
from wrktalk_agent.executors.gitops import GitOpsExecutor
from wrktalk_agent.executors.helm import HelmExecutor
from wrktalk_agent.settings import Settings

__all__ = [
    "CheckLine",
    "ComposeExecutor",
    "ExecutionContext",
    "Executor",
    "GitOpsExecutor",
    "HelmExecutor",
    "LocalRelease",
    "RollbackTarget",
    "build_executor",
]


def build_executor(settings: Settings) -> Executor:
    """The executor of ``settings.deployment_type``.

    Raises :class:`~wrktalk_agent.errors.ConfigurationError` when its settings are incomplete.
    """
    if settings.deployment_type is DeploymentType.DOCKER:
        return ComposeExecutor(settings)
    if settings.deployment_type is DeploymentType.GITOPS:
        return GitOpsExecutor(settings)
    return HelmExecutor(settings)
