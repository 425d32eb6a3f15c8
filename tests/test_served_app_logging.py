"""Each server process of ``serve --workers N`` logs at the configured level and format.

uvicorn starts every server of ``--workers N`` in a fresh (spawned) process that only imports
the app factory named on the command line; the command's own logging configuration does not
reach it. These tests build the served app in such a fresh process and log from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

TIERS = [
    pytest.param("gcc.app", "GCC_", "gcc-api", id="gcc"),
    pytest.param("customer_backend.app", "WRKTALK_", "customer-backend-api", id="backend"),
]

SCRIPT = """
import structlog
from {module} import create_served_app

create_served_app()
log = structlog.get_logger("served")
log.info("task.claim.succeeded")
log.warning("task.claim.slow")
"""


@pytest.mark.parametrize(("module", "prefix", "service"), TIERS)
def test_a_fresh_server_process_logs_at_the_configured_level_in_json(
    module: str, prefix: str, service: str
) -> None:
    environment = {**os.environ, f"{prefix}LOG_LEVEL": "WARNING", f"{prefix}LOG_JSON": "true"}
    finished = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(module=module)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    output = finished.stdout + finished.stderr
    assert "task.claim.succeeded" not in output
    events = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    assert [(event["event"], event["level"], event["service"]) for event in events] == [
        ("task.claim.slow", "warning", service)
    ]
