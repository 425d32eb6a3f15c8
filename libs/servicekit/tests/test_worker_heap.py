"""A pool process leaves its start-up objects out of garbage collection."""

from __future__ import annotations

import json
import subprocess
import sys

from servicekit.processes import YOUNG_COLLECTION_THRESHOLD

PROBE = """
import gc, json
from servicekit.processes import settle_heap
before = {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}
settle_heap()
after = {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}
print(json.dumps({"before": before, "after": after}))
"""


def test_settling_the_heap_freezes_what_the_process_holds_and_collects_less_often() -> None:
    # in a process of its own: freezing is for the life of a process
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    seen = json.loads(result.stdout)

    assert seen["before"]["frozen"] == 0
    assert seen["after"]["frozen"] > 10_000, "the imported modules' objects are frozen"
    assert seen["after"]["threshold"][0] == YOUNG_COLLECTION_THRESHOLD
    assert seen["after"]["threshold"][1:] == seen["before"]["threshold"][1:]
