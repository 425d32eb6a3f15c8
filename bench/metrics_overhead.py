"""What the metrics add to a heartbeat and to a webhook delivery, in CPU time.

A heartbeat moves one counter; a delivery observes its latency in a histogram, and a batch of
``--batch`` deliveries moves the outcome counters once and runs one query for finished
fan-outs (measured by ``bench/gcc_fanout.py`` as part of the batch, not here). The script times
those calls in this process, in prometheus-client's single-process mode and in its
multiprocess mode (a temporary ``PROMETHEUS_MULTIPROC_DIR``, as ``serve --workers N`` uses),
and prints them beside a heartbeat's and a delivery's whole server CPU, given on the command
line from ``bench/gcc_heartbeat.py`` and ``bench/gcc_fanout.py`` (target: at most 5%).

    uv run python bench/metrics_overhead.py [--heartbeat-ms 0.42] [--delivery-ms 0.3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

MEASURE = """
import time
from gcc import metrics
from gcc.delivery.outcomes import DeliveryReport, count_deliveries
from gcc.delivery.sender import AttemptResult, Outcome
from datetime import UTC, datetime
import uuid

rounds = {rounds}
batch = {batch}
started = time.process_time()
for _ in range(rounds):
    metrics.HEARTBEATS.inc()
heartbeat = (time.process_time() - started) / rounds

results = [
    AttemptResult(uuid.uuid4(), Outcome.ACKNOWLEDGED, datetime.now(UTC), 12.5, 200)
    for _ in range(batch)
]
report = DeliveryReport(acknowledged=batch)
batches = max(rounds // batch, 1)
started = time.process_time()
for _ in range(batches):
    count_deliveries(report, results)
delivery = (time.process_time() - started) / (batches * batch)
print(heartbeat * 1000, delivery * 1000)
"""


def measure(*, multiprocess: bool, rounds: int, batch: int) -> tuple[float, float]:
    """Milliseconds of CPU per heartbeat and per delivery spent on metrics."""
    environment = dict(os.environ)
    with tempfile.TemporaryDirectory() as directory:
        if multiprocess:
            environment["PROMETHEUS_MULTIPROC_DIR"] = directory
        else:
            environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
        output = subprocess.run(
            [sys.executable, "-c", MEASURE.format(rounds=rounds, batch=batch)],
            env=environment,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    heartbeat, delivery = map(float, output.split())
    return heartbeat, delivery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heartbeat-ms", type=float, default=0.42)
    parser.add_argument("--delivery-ms", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    arguments = parser.parse_args()
    started = time.monotonic()
    for multiprocess in (False, True):
        heartbeat, delivery = measure(
            multiprocess=multiprocess, rounds=arguments.rounds, batch=arguments.batch
        )
        mode = "multiprocess" if multiprocess else "single process"
        print(
            f"{mode:>15}: heartbeat +{heartbeat * 1000:.2f} us "
            f"({heartbeat / arguments.heartbeat_ms:.2%} of {arguments.heartbeat_ms} ms), "
            f"delivery +{delivery * 1000:.2f} us "
            f"({delivery / arguments.delivery_ms:.2%} of {arguments.delivery_ms} ms)"
        )
    print(f"measured in {time.monotonic() - started:.1f} s; target: at most 5% each")


if __name__ == "__main__":
    main()
