"""Config rows as the contract models the Control Tower receives."""

from __future__ import annotations

from contracts import (
    EssentialConfigKind,
    EssentialConfigRevisionView,
    EssentialConfigView,
    NonEssentialEnvCategory,
    NonEssentialEnvView,
)
from customer_backend.config.models import EssentialConfigVersion, NonEssentialEnv
from customer_backend.config.service import EssentialConfigSummary


def env_view(env: NonEssentialEnv) -> NonEssentialEnvView:
    """A non-essential variable as the Control Tower sees it."""
    return NonEssentialEnvView(
        id=env.id,
        key=env.key,
        value=env.value,
        description=env.description,
        category=NonEssentialEnvCategory(env.category) if env.category else None,
        created_at=env.created_at,
        updated_at=env.updated_at,
        updated_by=env.updated_by,
    )


def revision_view(version: EssentialConfigVersion) -> EssentialConfigRevisionView:
    """One revision of the essential configuration: who, when and which keys, no value."""
    return EssentialConfigRevisionView(
        revision=version.revision,
        kind=_kind(version.kind),
        bucket_path=version.bucket_key,
        created_by=version.created_by,
        author_role=version.author_role,
        created_at=version.created_at,
        is_current=version.is_current,
        added_keys=version.added_keys,
        changed_keys=version.changed_keys,
        removed_keys=version.removed_keys,
    )


def essential_view(summary: EssentialConfigSummary) -> EssentialConfigView:
    """The current revision and its keys (an empty view before the first revision)."""
    version = summary.version
    if version is None:
        return EssentialConfigView(kind=summary.kind)
    return EssentialConfigView(
        revision=version.revision,
        kind=summary.kind,
        bucket_path=version.bucket_key,
        keys=summary.keys,
        created_by=version.created_by,
        created_at=version.created_at,
    )


def _kind(kind: str) -> EssentialConfigKind:
    return "env" if kind == "env" else "values"
