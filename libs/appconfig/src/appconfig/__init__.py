"""The non-essential settings the WrkTalk application reads from its customer backend at run time.

The backend serves them at ``GET /api/app/config`` to the holder of its app config token
(``WRKTALK_APP_CONFIG_TOKEN``). :class:`AppConfigClient` keeps the last answer and its entity tag:
within ``max_age`` seconds it answers from memory, after that it asks again with
``If-None-Match``, which costs a ``304`` and no body while nothing changed. When the backend
cannot be reached the last answer keeps being served, so a backend restart never stops the
application; a refused token always raises, because no earlier answer makes it right::

    async with AppConfigClient("http://customer-backend:3000", token) as settings:
        if await settings.get_bool("FEATURE_X", default=False):
            ...
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final

import httpx

from contracts import APPLICATION_CONFIG_PATH, ApplicationConfig

__all__ = [
    "DEFAULT_MAX_AGE_SECONDS",
    "AppConfigClient",
    "AppConfigError",
    "AppConfigUnauthorized",
    "AppConfigUnavailable",
    "AppConfigValueError",
]

DEFAULT_MAX_AGE_SECONDS: Final = 30.0
"""How long an answer is used before the backend is asked again."""

TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS: Final = frozenset({"0", "false", "no", "off"})

log = logging.getLogger(__name__)


class AppConfigError(Exception):
    """The application configuration could not be read."""


class AppConfigUnauthorized(AppConfigError):
    """The backend refused the app config token (401): raised even when an answer is held."""


class AppConfigUnavailable(AppConfigError):
    """The backend could not be reached or gave an unusable answer, and no answer is held."""


class AppConfigValueError(AppConfigError, ValueError):
    """A variable's value is not of the type asked for (``get_bool``, ``get_int``)."""


class AppConfigClient:
    """Reads :class:`contracts.ApplicationConfig` from a customer backend, cached by entity tag.

    ``http_client`` lets the caller share a connection pool (the client then does not close
    it); ``monotonic`` is the clock ``max_age`` is measured with.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        max_age: float = DEFAULT_MAX_AGE_SECONDS,
        timeout: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the client; nothing is sent before the first read."""
        self._url = base_url.rstrip("/") + APPLICATION_CONFIG_PATH
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._max_age = max_age
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._config: ApplicationConfig | None = None
        self._entity_tag: str | None = None
        self._checked_at = 0.0

    async def __aenter__(self) -> AppConfigClient:
        """The client itself."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the HTTP client if this client created it."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    @property
    def cached(self) -> ApplicationConfig | None:
        """The last answer held, without asking the backend; None before the first."""
        return self._config

    async def refresh(self) -> ApplicationConfig:
        """Ask the backend now, sending the held entity tag, and return the current settings.

        Raises :class:`AppConfigUnauthorized` on 401 and :class:`AppConfigUnavailable` when the
        backend cannot be reached or answers anything else.
        """
        async with self._lock:
            return await self._fetch()

    async def current(self) -> ApplicationConfig:
        """The settings: from memory within ``max_age``, otherwise asked again.

        When asking fails but an answer is held, that answer is served and the backend is
        asked again only after another ``max_age``.
        """
        async with self._lock:
            if self._config is not None and self._age() < self._max_age:
                return self._config
            try:
                return await self._fetch()
            except AppConfigUnavailable as error:
                if self._config is None:
                    raise
                log.warning("appconfig.refresh.failed, serving the last answer: %s", error)
                self._checked_at = self._monotonic()
                return self._config

    async def get(self, key: str, default: str | None = None) -> str | None:
        """The value of ``key``, or ``default`` when the backend has no such variable."""
        return (await self.current()).variables.get(key, default)

    async def get_bool(self, key: str, default: bool) -> bool:
        """``key`` as a boolean (``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``,
        any case), or ``default`` when unset."""
        value = await self.get(key)
        if value is None:
            return default
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise AppConfigValueError(f"{key}={value!r} is not a boolean (true or false)")

    async def get_int(self, key: str, default: int) -> int:
        """``key`` as an integer, or ``default`` when unset."""
        value = await self.get(key)
        if value is None:
            return default
        try:
            return int(value.strip())
        except ValueError:
            raise AppConfigValueError(f"{key}={value!r} is not an integer") from None

    def _age(self) -> float:
        return self._monotonic() - self._checked_at

    async def _fetch(self) -> ApplicationConfig:
        headers = dict(self._headers)
        if self._entity_tag is not None and self._config is not None:
            headers["If-None-Match"] = self._entity_tag
        try:
            response = await self._http.get(self._url, headers=headers)
        except httpx.HTTPError as error:
            raise AppConfigUnavailable(f"{self._url} could not be reached: {error!r}") from error
        if response.status_code == httpx.codes.NOT_MODIFIED and self._config is not None:
            self._checked_at = self._monotonic()
            return self._config
        if response.status_code == httpx.codes.UNAUTHORIZED:
            raise AppConfigUnauthorized(f"{self._url} refused the app config token")
        if response.status_code != httpx.codes.OK:
            raise AppConfigUnavailable(f"{self._url} answered {response.status_code}")
        try:
            config = ApplicationConfig.model_validate_json(response.content)
        except ValueError as error:
            raise AppConfigUnavailable(f"{self._url} answered an unreadable body") from error
        self._config = config
        self._entity_tag = response.headers.get("ETag")
        self._checked_at = self._monotonic()
        return config
