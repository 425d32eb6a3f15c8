"""Each tier's process exports its spans to the OTLP endpoint its settings name.

A fresh process of each tier configures itself from its environment, as ``serve``, ``worker``
and the agent do, works in a span of a release's trace and logs from it, then exits: the
spans it held reach the collector (a real HTTP server on loopback that decodes them), named
with the process's service, in the release's trace, and the log line names the same span.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from testsupport.otlp import running_collector

UPSTREAM_TRACE = "0af7651916cd43dd8448eb211c80319c"
UPSTREAM_SPAN = "b7ad6b7169203331"

TIERS = [
    pytest.param(
        "from gcc.app import create_served_app; create_served_app()",
        "GCC_",
        "gcc-api",
        id="gcc",
    ),
    pytest.param(
        "from customer_backend.app import create_served_app; create_served_app()",
        "WRKTALK_",
        "customer-backend-api",
        id="backend",
    ),
    pytest.param(
        "from wrktalk_agent.cli import _settings; _settings()",
        "WRKTALK_AGENT_",
        "wrktalk-agent",
        id="agent",
    ),
]

SCRIPT = """
{configure}
import structlog
from telemetry import span

with span("release.work", parent="00-{trace}-{span}-01"):
    structlog.get_logger("traced").info("release.work.done", release_id="r-1")
"""


@pytest.mark.parametrize(("configure", "prefix", "service"), TIERS)
def test_a_process_with_an_otlp_endpoint_exports_its_spans(
    configure: str, prefix: str, service: str
) -> None:
    with running_collector() as collector:
        environment = {
            **os.environ,
            f"{prefix}OTLP_ENDPOINT": collector.url,
            f"{prefix}LOG_JSON": "true",
            f"{prefix}LOG_LEVEL": "INFO",
        }
        finished = subprocess.run(
            [
                sys.executable,
                "-c",
                SCRIPT.format(configure=configure, trace=UPSTREAM_TRACE, span=UPSTREAM_SPAN),
            ],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        [exported] = collector.wait_for(1)

    assert (exported.service, exported.name) == (service, "release.work")
    assert (exported.trace_id, exported.parent_span_id) == (UPSTREAM_TRACE, UPSTREAM_SPAN)
    [logged] = [
        json.loads(line)
        for line in finished.stdout.splitlines()
        if line.startswith("{") and "release.work.done" in line
    ]
    assert (logged["trace_id"], logged["span_id"]) == (UPSTREAM_TRACE, exported.span_id)
    assert logged["release_id"] == "r-1"
