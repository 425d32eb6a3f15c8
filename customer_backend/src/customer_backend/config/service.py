"""Non-essential variables (admin CRUD) and revisions of the essential configuration.

The essential configuration is what the agent deploys with: ``values.yaml`` for Helm
(kubernetes, gitops) or ``.env`` for Compose (docker). Each saved file becomes a numbered
revision in the bucket (``config/values.r{N}.yaml`` or ``config/env.r{N}``); deployments record
the revision they ran with, so a rollback to a version uses that version's revision.

The essential configuration holds the installation's secrets (spec 4.1: the vendor's team
changes it, the Control Tower cannot). Only a ``support`` admin or the backend's command line
saves a revision; each revision records who saved it, with which role, when, and which keys it
added, changed and removed. Admins see keys and that history, never a value: no answer and no log
line of this module carries one.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final, Literal

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentType,
    EssentialConfigKind,
    NonEssentialEnvCreate,
    NonEssentialEnvUpdate,
)
from customer_backend.admins.models import AdminRole
from customer_backend.config import history, repository
from customer_backend.config.history import EnvChangeAction
from customer_backend.config.models import EssentialConfigVersion, NonEssentialEnv
from customer_backend.config.settings_keys import (
    KeyChanges,
    key_changes,
    setting_keys,
    setting_values,
)
from customer_backend.config.validation import check_env_file, check_values_yaml
from objectstore import ObjectStore
from servicekit.errors import Conflict, Forbidden, NotFound
from timekeeping import Clock

log = structlog.get_logger(__name__)

SYSTEM_AUTHOR = "system"
"""``created_by`` and ``author_role`` of the empty first revision the backend creates itself."""

CLI_ROLE: Final = "cli"
"""The role recorded for a revision saved with the backend's command line, on its host."""

ESSENTIAL_CONFIG_WRITERS: Final = frozenset({AdminRole.SUPPORT.value, CLI_ROLE})
"""The roles that may save a revision of the essential configuration."""


@dataclass(frozen=True)
class EssentialConfigSummary:
    """What admins may know of the current essential configuration: its revision and keys."""

    kind: EssentialConfigKind
    version: EssentialConfigVersion | None
    keys: list[str] = field(default_factory=list)


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


async def get_env(session: AsyncSession, *, key: str) -> NonEssentialEnv:
    """The variable named ``key``; 404 when there is none."""
    env = await repository.get_env(session, key)
    if env is None:
        raise NotFound(f"There is no non-essential variable named {key}.", field="key")
    return env


async def add_env_if_absent(session: AsyncSession, *, clock: Clock, key: str, value: str) -> bool:
    """Add a variable a release brings unless its key exists (an admin's value is never
    overwritten); True when added."""
    now = clock.now()
    created_id = await repository.insert_env_if_absent(
        session,
        key=key,
        value=value,
        description=None,
        category=None,
        updated_by=None,
        now=now,
    )
    if created_id is not None:
        await history.record_change(
            session,
            key=key,
            action=EnvChangeAction.CREATED,
            old_value=None,
            new_value=value,
            changed_by=None,
            now=now,
        )
    return created_id is not None


async def create_env(
    session: AsyncSession, *, clock: Clock, request: NonEssentialEnvCreate, admin_email: str
) -> NonEssentialEnv:
    """Add a variable; 409 when the key exists (an existing value is never overwritten)."""
    now = clock.now()
    created_id = await repository.insert_env_if_absent(
        session,
        key=request.key,
        value=request.value,
        description=request.description,
        category=str(request.category) if request.category is not None else None,
        updated_by=admin_email,
        now=now,
    )
    if created_id is None:
        raise Conflict(
            f"The variable {request.key} exists already; change it with PATCH.", field="key"
        )
    await history.record_change(
        session,
        key=request.key,
        action=EnvChangeAction.CREATED,
        old_value=None,
        new_value=request.value,
        changed_by=admin_email,
        now=now,
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
    now = clock.now()
    if "value" in fields and update.value is not None and update.value != env.value:
        await history.record_change(
            session,
            key=key,
            action=EnvChangeAction.UPDATED,
            old_value=env.value,
            new_value=update.value,
            changed_by=admin_email,
            now=now,
        )
        env.value = update.value
    if "description" in fields:
        env.description = update.description
    if "category" in fields:
        env.category = str(update.category) if update.category is not None else None
    env.updated_at = now
    env.updated_by = admin_email
    session.add(env)
    await session.flush()
    log.info("config.env.updated", key=key, fields=sorted(fields), admin=admin_email)
    return env


async def delete_env(session: AsyncSession, *, clock: Clock, key: str, admin_email: str) -> None:
    """Remove a variable; 404 for an unknown key."""
    env = await repository.get_env(session, key, for_update=True)
    if env is None:
        raise NotFound(f"There is no non-essential variable named {key}.", field="key")
    await history.record_change(
        session,
        key=key,
        action=EnvChangeAction.DELETED,
        old_value=env.value,
        new_value=None,
        changed_by=admin_email,
        now=clock.now(),
    )
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
    """The text of a stored revision, values included: for the agent's side and the backend's
    command line on its host, never for an answer to an admin."""
    parts = [chunk async for chunk in object_store.iter_chunks(version.bucket_key)]
    return b"".join(parts).decode("utf-8")


async def essential_config_summary(
    session: AsyncSession, *, object_store: ObjectStore, deployment_type: DeploymentType
) -> EssentialConfigSummary:
    """The current revision and the keys it sets, without their values."""
    kind = config_kind(deployment_type)
    current = await repository.current_essential_config(session, kind)
    if current is None:
        return EssentialConfigSummary(kind=kind, version=None)
    content = await read_essential_config(object_store, current)
    return EssentialConfigSummary(kind=kind, version=current, keys=setting_keys(kind, content))


async def save_essential_config(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    deployment_type: DeploymentType,
    content: str,
    admin_email: str,
    role: str,
) -> EssentialConfigSummary:
    """Check ``content``, store it as the next revision and make it current.

    ``admin_email`` is who saves it and ``role`` their role: only ``support`` or ``cli`` may
    (403 otherwise). Saving the same text as the current revision changes nothing and returns
    the current one.
    """
    if role not in ESSENTIAL_CONFIG_WRITERS:
        raise Forbidden(
            "Only the vendor's support team changes the essential configuration: a support "
            "admin's token or the backend's command line."
        )
    kind = config_kind(deployment_type)
    if kind == "env":
        check_env_file(content)
    else:
        check_values_yaml(content)
    await repository.lock_essential_config(session)
    current = await repository.current_essential_config(session, kind)
    data = content.encode("utf-8")
    after = setting_values(kind, content)
    if current is not None and current.sha256 == _sha256(data):
        return EssentialConfigSummary(kind=kind, version=current, keys=sorted(after))
    before = (
        setting_values(kind, await read_essential_config(object_store, current))
        if current is not None
        else {}
    )
    version = await _store_revision(
        session,
        clock=clock,
        object_store=object_store,
        kind=kind,
        data=data,
        author=admin_email,
        author_role=role,
        changes=key_changes(before, after),
    )
    return EssentialConfigSummary(kind=kind, version=version, keys=sorted(after))


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
        session,
        clock=clock,
        object_store=object_store,
        kind=kind,
        data=b"",
        author=SYSTEM_AUTHOR,
        author_role=SYSTEM_AUTHOR,
        changes=KeyChanges(),
    )


async def _store_revision(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    kind: EssentialConfigKind,
    data: bytes,
    author: str,
    author_role: str,
    changes: KeyChanges,
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
        author_role=author_role,
        created_at=clock.now(),
        is_current=True,
        added_keys=changes.added,
        changed_keys=changes.changed,
        removed_keys=changes.removed,
    )
    session.add(version)
    await session.flush()
    # the audit line: who, with which role, and which keys; never a value
    log.info(
        "config.essential.saved",
        revision=revision,
        kind=kind,
        bucket_key=key,
        author=author,
        author_role=author_role,
        added_keys=changes.added,
        changed_keys=changes.changed,
        removed_keys=changes.removed,
    )
    return version


async def _single_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
