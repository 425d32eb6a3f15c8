"""Small messages used by several APIs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from pydantic import Field

from contracts.base import ContractModel
from contracts.primitives import EnvKey, ImageTags

__all__ = [
    "MAX_ENV_VALUE_LENGTH",
    "WELL_KNOWN_SERVICES",
    "NonEssentialEnv",
    "ReceivedAck",
    "compose_image_tag_variable",
    "ensure_unique_env_keys",
    "missing_well_known_services",
]

MAX_ENV_VALUE_LENGTH: Final = 65_536
"""Longest accepted value of an environment variable."""

WELL_KNOWN_SERVICES: Final = ("backend", "media", "controlTower", "agent")
"""The services every release carries an image tag for (spec 5.1)."""


class NonEssentialEnv(ContractModel):
    """A non-essential environment variable a release introduces, with its default value."""

    key: EnvKey
    """Variable name, such as `NEW_FEATURE`."""
    value: str = Field(max_length=MAX_ENV_VALUE_LENGTH)
    """Default value; an admin's existing value is never overwritten by it."""


class ReceivedAck(ContractModel):
    """`{"received": true}`: the answer to a webhook, a heartbeat or a log batch."""

    received: bool = True
    """Always true: the message was accepted."""


def ensure_unique_env_keys(envs: Iterable[NonEssentialEnv]) -> None:
    """Raise `ValueError` naming the first key that appears twice in `envs`."""
    seen: set[str] = set()
    for env in envs:
        if env.key in seen:
            raise ValueError(f"the key {env.key!r} appears more than once")
        seen.add(env.key)


def missing_well_known_services(image_tags: ImageTags) -> list[str]:
    """The :data:`WELL_KNOWN_SERVICES` that have no tag in `image_tags`, in their order."""
    return [service for service in WELL_KNOWN_SERVICES if service not in image_tags]


def compose_image_tag_variable(service: str) -> str:
    """The `.env` variable a Compose bundle reads a service's tag from.

    `controlTower` becomes `CONTROL_TOWER_IMAGE_TAG`; `backend` becomes
    `BACKEND_IMAGE_TAG`.
    """
    words: list[str] = []
    current = ""
    for character in service:
        if character.isupper() and current:
            words.append(current)
            current = ""
        current += character
    if current:
        words.append(current)
    return "_".join(word.upper() for word in words) + "_IMAGE_TAG"
