"""Every GCC table, imported in one place for Alembic and the app."""

from gcc.artifacts.models import Artifact
from gcc.audit.models import AuditEntry
from gcc.escalations.models import Escalation
from gcc.operators.models import Operator, OperatorSession, OperatorSignInLink
from gcc.organizations.models import Organization, VersionHistory
from gcc.releases.models import DeploymentTarget, Release, Rollout

__all__ = [
    "Artifact",
    "AuditEntry",
    "DeploymentTarget",
    "Escalation",
    "Operator",
    "OperatorSession",
    "OperatorSignInLink",
    "Organization",
    "Release",
    "Rollout",
    "VersionHistory",
]
