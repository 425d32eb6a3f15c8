"""The demo driving whichever stack an end-to-end module declares (each module declares its
own ``stack`` fixture, with its customers and timings, through ``tests.e2e.stacks``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.demo import Demo
from tools.stack import Stack


@pytest.fixture(scope="module")
def demo(stack: Stack) -> Iterator[Demo]:
    driver = Demo(stack)
    yield driver
    driver.gcc.close()
