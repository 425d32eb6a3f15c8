"""Running a whole stack for one end-to-end module."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tools.stack import Stack, StackConfig
from wrktalk_testing.redis_db import RedisClaim, release_redis_db


def serve_stack(config: StackConfig, claims: Sequence[RedisClaim]) -> Iterator[Stack]:
    """Start the stack, hand it to the module, then stop it and give back its Redis numbers."""
    running = Stack(config)
    try:
        running.start()
        yield running
    finally:
        running.reset()
        for claim in claims:
            release_redis_db(claim)
