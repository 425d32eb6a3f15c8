"""Non-essential variables (admin CRUD) and revisions of the essential configuration.

The essential configuration is what the agent deploys with: ``values.yaml`` for Helm
(kubernetes, gitops) or ``.env`` for Compose (docker). Each saved file becomes a numbered
revision in the bucket (``config/values.r{N}.yaml`` or ``config/env.r{N}``); deployments record
the revision they ran with, so a rollback to a version uses that version's revision.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Literal

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentType,
    EssentialConfigKind,
    NonEssentialEnvCreate,
    NonEssentialEnvUpdate,
)
from customer_backend.config import repository
from customer_backend.config.models import EssentialConfigVersion, NonEssentialEnv
from customer_backend.config.validation import check_env_file, check_values_yaml
from objectstore import ObjectStore
from servicekit.errors import Conflict, NotFound
from timekeeping import Clock

log = structlog.get_logger(__name__)

SYSTEM_AUTHOR = "system"
"""``created_by`` of the empty first revision the backend creates itself."""


def config_kind(deployment_type: DeploymentType) -> EssentialConfigKind:
    """``env`` for Compose (docker), ``values`` for Helm (kubernetes, gitops)."""
    kind: Literal["values", "env"] = "env" if deployment_type is DeploymentType.DOCKER else "values"
    return kind


def essential_config_key(kind: EssentialConfigKind, revision: int) -> str:
    """Bucket key of a revision: ``config/values.r{N}.yaml`` or ``config/env.r{N}``."""
    if kind == "env":
        return f"config/env.r{revision}"
    return f"config/values.r{revision}.yaml"


async def list_envs(session: AsyncSession) -> list[NonEssentialEnv]:
    """Every non-essential variable, by key."""
    return await repository.list_envs(session)


async def add_env_if_absent(session: AsyncSession, *, clock: Clock, key: str, value: str) -> bool:
    """Add a variable a release brings unless its key exists (an admin's value is never
    overwritten); True when added."""
    created_id = await repository.insert_env_if_absent(
        session,
        key=key,
        value=value,
        description=None,
        category=None,
        updated_by=None,
        now=clock.now(),
    )
    return created_id is not None


async def create_env(
    session: AsyncSession, *, clock: Clock, request: NonEssentialEnvCreate, admin_email: str
) -> NonEssentialEnv:
    """Add a variable; 409 when the key exists (an existing value is never overwritten)."""
    created_id = await repository.insert_env_if_absent(
        session,
        key=request.key,
        value=request.value,
        description=request.description,
        category=str(request.category) if request.category is not None else None,
        updated_by=admin_email,
        now=clock.now(),
    )
    if created_id is None:
        raise Conflict(
            f"The variable {request.key} exists already; change it with PATCH.", field="key"
        )
    env = await repository.get_env(session, request.key)
    assert env is not None
    log.info("config.env.created", key=request.key, admin=admin_email)
    return env


async def update_env(
    session: AsyncSession,
    *,
    clock: Clock,
    key: str,
    update: NonEssentialEnvUpdate,
    admin_email: str,
) -> NonEssentialEnv:
    """Change the fields ``update`` sets; 404 for an unknown key."""
    env = await repository.get_env(session, key, for_update=True)
    if env is None:
        raise NotFound(f"There is no non-essential variable named {key}.", field="key")
    fields = update.model_fields_set
    if "value" in fields and update.value is not None:
        env.value = update.value
    if "description" in fields:
        env.description = update.description
    if "category" in fields:
        env.category = str(update.category) if update.category is not None else None
    env.updated_at = clock.now()
    env.updated_by = admin_email
    session.add(env)
    await session.flush()
    log.info("config.env.updated", key=key, fields=sorted(fields), admin=admin_email)
    return env


async def delete_env(session: AsyncSession, *, key: str, admin_email: str) -> None:
    """Remove a variable; 404 for an unknown key."""
    env = await repository.get_env(session, key, for_update=True)
    if env is None:
        raise NotFound(f"There is no non-essential variable named {key}.", field="key")
    await session.delete(env)
    await session.flush()
    log.info("config.env.deleted", key=key, admin=admin_email)


async def current_essential_config(
    session: AsyncSession, *, deployment_type: DeploymentType
) -> EssentialConfigVersion | None:
    """The revision the next deployment uses, None before the first one exists."""
    return await repository.current_essential_config(session, config_kind(deployment_type))


async def list_essential_configs(
    session: AsyncSession, *, deployment_type: DeploymentType
) -> list[EssentialConfigVersion]:
    """Every revision of this installation's kind, newest first."""
    return await repository.list_essential_configs(session, config_kind(deployment_type))


async def essential_config_by_revision(
    session: AsyncSession, revision: int
) -> EssentialConfigVersion | None:
    """The revision numbered ``revision``, None when unknown."""
    return await repository.essential_config_by_revision(session, revision)


async def revision_of_bucket_key(session: AsyncSession, bucket_key: str) -> int | None:
    """The revision stored at ``bucket_key`` (a task payload's values/env path), if any.

    Task completion uses it to record in deployment history which revision a version ran with.
    """
    version = await repository.essential_config_by_bucket_key(session, bucket_key)
    return version.revision if version is not None else None


async def read_essential_config(object_store: ObjectStore, version: EssentialConfigVersion) -> str:
    """The text of a stored revision."""
    parts = [chunk async for chunk in object_store.iter_chunks(version.bucket_key)]
    return b"".join(parts).decode("utf-8")


async def save_essential_config(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    deployment_type: DeploymentType,
    content: str,
    admin_email: str,
) -> EssentialConfigVersion:
    """Check ``content``, store it as the next revision and make it current.

    Saving the same text as the current revision changes nothing and returns the current one.
    """
    kind = config_kind(deployment_type)
    if kind == "env":
        check_env_file(content)
    else:
        check_values_yaml(content)
    await repository.lock_essential_config(session)
    current = await repository.current_essential_config(session, kind)
    data = content.encode("utf-8")
    if current is not None and current.sha256 == _sha256(data):
        return current
    return await _store_revision(
        session, clock=clock, object_store=object_store, kind=kind, data=data, author=admin_email
    )


async def ensure_essential_config(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    deployment_type: DeploymentType,
) -> EssentialConfigVersion:
    """The current revision, creating an empty revision first when none exists.

    Every deployment carries an essential configuration, so the agent always receives one.
    """
    kind = config_kind(deployment_type)
    current = await repository.current_essential_config(session, kind)
    if current is not None:
        return current
    await repository.lock_essential_config(session)
    current = await repository.current_essential_config(session, kind)
    if current is not None:
        return current
    return await _store_revision(
        session, clock=clock, object_store=object_store, kind=kind, data=b"", author=SYSTEM_AUTHOR
    )


async def _store_revision(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    kind: EssentialConfigKind,
    data: bytes,
    author: str,
) -> EssentialConfigVersion:
    # Called with the essential configuration lock held: revision numbers never collide.
    revision = await repository.highest_revision(session) + 1
    key = essential_config_key(kind, revision)
    stored = await object_store.put_stream(key, _single_chunk(data), content_type="text/plain")
    await repository.clear_current_essential_config(session, kind)
    version = EssentialConfigVersion(
        revision=revision,
        kind=kind,
        bucket_key=key,
        sha256=stored.sha256 or _sha256(data),
        created_by=author,
        created_at=clock.now(),
        is_current=True,
    )
    session.add(version)
    await session.flush()
    log.info("config.essential.saved", revision=revision, kind=kind, key=key, author=author)
    return version


async def _single_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
