"""Status and type enums of the specification's sections 11-13, plus what the issues add.

Every enum is a :class:`enum.StrEnum`: a member equals its wire value
(`AgentTaskStatus.IN_PROGRESS == "inProgress"`) and serialises as that string.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AgentTaskStatus",
    "AgentTaskType",
    "ArtifactType",
    "DeploymentStatus",
    "DeploymentType",
    "EscalationType",
    "HealthStatus",
    "HeartbeatStatus",
    "LocalDeploymentStatus",
    "LogStream",
    "NonEssentialEnvCategory",
    "ReleaseStatus",
    "TaskResultStatus",
]


class ArtifactType(StrEnum):
    """The kind of deployable artifact CI uploads for a release."""

    HELM = "helm"
    """A packaged Helm chart, `wrktalk-{version}.tgz`."""
    COMPOSE = "compose"
    """A Docker Compose bundle, `wrktalk-{version}-compose.tar.gz`."""


class DeploymentType(StrEnum):
    """How an organization runs the product, which decides the artifact it receives."""

    KUBERNETES = "kubernetes"
    """Helm upgrades against a cluster."""
    DOCKER = "docker"
    """Docker Compose on a host."""
    GITOPS = "gitops"
    """The Helm chart rendered and committed to a Git repository that Argo CD or Flux syncs."""

    @property
    def artifact_type(self) -> ArtifactType:
        """The artifact this deployment type deploys: Compose for docker, Helm otherwise."""
        return ArtifactType.COMPOSE if self is DeploymentType.DOCKER else ArtifactType.HELM


class ReleaseStatus(StrEnum):
    """Life cycle of a release at GCC."""

    DRAFT = "draft"
    PUBLISHED = "published"
    DEPRECATED = "deprecated"


class DeploymentStatus(StrEnum):
    """Status of one release at one organization, as GCC tracks it (its deployment target)."""

    PENDING = "pending"
    NOTIFIED = "notified"
    WEBHOOK_FAILED = "webhookFailed"
    DOWNLOAD_FAILED = "downloadFailed"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "inProgress"
    SUCCESS = "success"
    FAILED = "failed"
    ROLLED_BACK = "rolledBack"
    DEADLINE_EXCEEDED = "deadlineExceeded"
    CANCELLED = "cancelled"


class EscalationType(StrEnum):
    """Why GCC escalated an organization to its account manager and the GCC admins."""

    FORCED_24H_EXCEEDED = "FORCED_24H_EXCEEDED"
    MIN_VERSION_BLOCKED = "MIN_VERSION_BLOCKED"
    LICENSE_EXPIRED = "LICENSE_EXPIRED"
    DEPLOYMENT_FAILED = "DEPLOYMENT_FAILED"
    CLIENT_OFFLINE = "CLIENT_OFFLINE"
    """A critical organization (not seen for 24 hours); raised once per offline period and
    resolved when its heartbeats return."""
    DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
    """The customer backend reported `downloadFailed`: it could not download or verify the
    release's artifact (spec errors 3.1 and 3.2)."""
    WEBHOOK_REJECTED = "WEBHOOK_REJECTED"
    """The organization's webhook endpoint answered 401: it does not accept GCC's signature
    (a secret that differs from the one GCC holds). Not retried."""
    WEBHOOK_GONE = "WEBHOOK_GONE"
    """The organization's webhook endpoint answered 410: it asks GCC to stop sending to it.
    Not retried; the release is offered by the updates poll meanwhile."""
    ROLLOUT_HALTED = "ROLLOUT_HALTED"
    """A release's phased rollout halted: a wave's failures or health regressions passed the
    plan's threshold. Raised once per halt; further waves wait for an operator."""
    WEBHOOK_FAILED = "WEBHOOK_FAILED"
    """Every attempt to deliver a release's webhook failed (an error answer, a timeout, no
    connection): the target is `webhookFailed` and the release waits for the customer's poll."""


class LocalDeploymentStatus(StrEnum):
    """Status of a scheduled deployment in the customer backend."""

    PENDING = "pending"
    DOWNLOAD_FAILED = "downloadFailed"
    SCHEDULED = "scheduled"
    MISSED_SCHEDULE = "missedSchedule"
    IN_PROGRESS = "inProgress"
    SUCCESS = "success"
    FAILED = "failed"
    ROLLED_BACK = "rolledBack"
    DEADLINE_EXCEEDED = "deadlineExceeded"
    CANCELLED = "cancelled"


class AgentTaskType(StrEnum):
    """What an agent task asks the agent to do."""

    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    MAINTENANCE = "maintenance"
    """Switch maintenance mode on or off, as an admin asked, outside a deployment."""


class AgentTaskStatus(StrEnum):
    """Status of an agent task in the customer backend's queue.

    `cancelled` is the backend's own (a cancelled or missed schedule); the agent reports only
    `inProgress`, `completed` and `failed`.
    """

    PENDING = "pending"
    IN_PROGRESS = "inProgress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskResultStatus(StrEnum):
    """Outcome the agent records in a task's result."""

    SUCCESS = "success"
    """The requested version is running."""
    FAILED = "failed"
    """The deployment failed and nothing was restored (Compose may be left partly updated)."""
    ROLLED_BACK = "rolledBack"
    """The deployment failed and the previous version was restored (`--atomic` or the agent's
    Compose re-deploy); `rolledBackTo` names it."""


class HealthStatus(StrEnum):
    """GCC's classification of an organization from `lastSeen` (spec 11.1)."""

    ONLINE = "online"
    """Seen within the last 10 minutes."""
    DEGRADED = "degraded"
    """Seen within the last hour."""
    OFFLINE = "offline"
    """Seen within the last 24 hours."""
    CRITICAL = "critical"
    """Not seen for more than 24 hours."""
    UNKNOWN = "unknown"
    """Never seen: no heartbeat and no acknowledged webhook yet."""


class HeartbeatStatus(StrEnum):
    """How a customer backend describes itself in its heartbeat to GCC."""

    HEALTHY = "healthy"
    """Backend and agent are working."""
    DEGRADED = "degraded"
    """The backend works but something it depends on does not (the agent is offline, the
    bucket is unreachable)."""
    UNHEALTHY = "unhealthy"
    """The backend cannot deploy."""


class LogStream(StrEnum):
    """Where a deployment log line came from."""

    STDOUT = "stdout"
    """Standard output of the executor's command."""
    STDERR = "stderr"
    """Standard error of the executor's command."""
    AGENT = "agent"
    """The agent's own account of what it is doing."""


class NonEssentialEnvCategory(StrEnum):
    """Grouping of non-essential environment variables in the Control Tower."""

    FEATURE = "feature"
    LOGGING = "logging"
    UI = "ui"
