"""What the WrkTalk application reads at run time (spec 4.2 step 3): every non-essential
variable, with an entity tag so that an unchanged configuration costs a poll no body."""

from __future__ import annotations

import hashlib

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ApplicationConfig
from customer_backend.config import repository


async def application_config(session: AsyncSession) -> tuple[ApplicationConfig, str]:
    """Every non-essential variable by key, and the entity tag of exactly that content."""
    envs = await repository.list_envs(session)
    config = ApplicationConfig(variables={env.key: env.value for env in envs})
    return config, entity_tag(config)


def entity_tag(config: ApplicationConfig) -> str:
    """A strong entity tag: the quoted SHA256 (first 128 bits) of the answer's JSON.

    Variables are listed by key, so the same content always gives the same tag, on every
    replica and after a restart.
    """
    digest = hashlib.sha256(config.model_dump_json().encode()).hexdigest()
    return f'"{digest[:32]}"'


def entity_tag_matches(if_none_match: str | None, current: str) -> bool:
    """Whether an ``If-None-Match`` header names ``current`` (weak comparison, RFC 9110)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == current:
            return True
    return False
