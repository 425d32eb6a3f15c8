"""Every GCC table, imported in one place for Alembic and the app."""

from gcc.artifacts.models import Artifact
from gcc.escalations.models import Escalation
from gcc.organizations.models import Organization, VersionHistory
from gcc.releases.models import DeploymentTarget, Release

__all__ = [
    "Artifact",
    "DeploymentTarget",
    "Escalation",
    "Organization",
    "Release",
    "VersionHistory",
]
