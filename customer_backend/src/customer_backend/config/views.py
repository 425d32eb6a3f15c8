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
    """One revision of the essential configuration, without its text."""
    return EssentialConfigRevisionView(
        revision=version.revision,
        kind=_kind(version.kind),
        bucket_path=version.bucket_key,
        sha256=version.sha256,
        created_by=version.created_by,
        created_at=version.created_at,
        is_current=version.is_current,
    )


def essential_view(
    kind: EssentialConfigKind, version: EssentialConfigVersion | None, content: str
) -> EssentialConfigView:
    """The current revision and its text (an empty view before the first revision)."""
    if version is None:
        return EssentialConfigView(kind=kind)
    return EssentialConfigView(
        revision=version.revision,
        kind=kind,
        bucket_path=version.bucket_key,
        sha256=version.sha256,
        content=content,
        created_by=version.created_by,
        created_at=version.created_at,
    )


def _kind(kind: str) -> EssentialConfigKind:
    return "env" if kind == "env" else "values"
