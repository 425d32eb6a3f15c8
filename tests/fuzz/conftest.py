"""The schema fuzzing runs in its own session (`nox -s fuzz`), not with every `pytest`: it
takes minutes, where the rest of the suite's tests take seconds each."""

from __future__ import annotations

import os

FUZZ_ENV = "WRKTALK_FUZZ"

collect_ignore_glob = [] if os.environ.get(FUZZ_ENV) else ["test_*.py"]
