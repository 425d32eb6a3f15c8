"""The WrkTalk application to its customer backend: the non-essential settings it reads at run time.

The application polls `GET /api/app/config` with its own credential (`Authorization: Bearer
<WRKTALK_APP_CONFIG_TOKEN>`). Every answer carries an `ETag`; sending it back as
`If-None-Match` gets `304 Not Modified` with no body while nothing changed, so polling often is
cheap. The typed client with a cache is `libs/appconfig` (package `appconfig`).
"""

from __future__ import annotations

from typing import Final

from pydantic import Field

from contracts.base import ContractModel
from contracts.primitives import EnvKey

__all__ = ["APPLICATION_CONFIG_PATH", "ApplicationConfig"]

APPLICATION_CONFIG_PATH: Final = "/api/app/config"
"""Where the customer backend serves :class:`ApplicationConfig`."""


class ApplicationConfig(ContractModel):
    """Answer to `GET /api/app/config`: every non-essential variable with its current value.

    Essential settings (connection strings, secrets) are never part of it.
    """

    variables: dict[EnvKey, str] = Field(default_factory=dict)
    """Each non-essential variable's value, by name (`{"FEATURE_X": "true"}`)."""
