"""Every GCC table, imported in one place for Alembic and the app."""

from gcc.artifacts.models import Artifact
from gcc.delivery.models import DeploymentTarget
from gcc.escalations.models import Escalation
from gcc.health.models import VersionHistory
from gcc.organizations.models import Organization
from gcc.releases.models import Release

__all__ = [
    "Artifact",
    "DeploymentTarget",
    "Escalation",
    "Organization",
    "Release",
    "VersionHistory",
]
