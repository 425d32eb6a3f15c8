"""The backend's bucket for the config tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from customer_backend.runtime import build_store
from customer_backend.settings import Settings
from objectstore import ObjectStore


@pytest.fixture
async def backend_store(backend_settings: Settings) -> AsyncIterator[ObjectStore]:
    """The backend's bucket, opened."""
    async with build_store(backend_settings) as store:
        yield store
