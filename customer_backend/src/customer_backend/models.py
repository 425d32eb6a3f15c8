"""Every customer backend table, imported in one place for Alembic and the app."""

from customer_backend.admins.models import Admin
from customer_backend.agent_tasks.models import AgentTask, TaskLogLine
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.config.models import (
    EssentialConfigVersion,
    NonEssentialEnv,
    NonEssentialEnvChange,
)
from customer_backend.console.models import ConsoleSession, ConsoleSignInLink
from customer_backend.deployments.models import DeploymentHistory, ScheduledDeployment
from customer_backend.installation.models import InstallationState
from customer_backend.intake.models import ReceivedWebhook
from customer_backend.maintenance.models import MaintenanceChange
from customer_backend.notifications.models import Notification
from customer_backend.reporting.models import GccOutboxMessage

__all__ = [
    "Admin",
    "AgentTask",
    "ConsoleSession",
    "ConsoleSignInLink",
    "DeploymentHistory",
    "EssentialConfigVersion",
    "GccOutboxMessage",
    "InstallationState",
    "LocalArtifact",
    "MaintenanceChange",
    "NonEssentialEnv",
    "NonEssentialEnvChange",
    "Notification",
    "ReceivedWebhook",
    "ScheduledDeployment",
    "TaskLogLine",
]
