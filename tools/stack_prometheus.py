"""Prometheus for the local stack, when Debian's ``prometheus`` is installed.

It scrapes GCC's and each customer backend's ``/metrics`` every 5 seconds and evaluates the
alert rules of ``infra/prometheus/alerts.yml``; its data lives under ``var/prometheus``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALERT_RULES = ROOT / "infra" / "prometheus" / "alerts.yml"
INSTALL_HINT = "apt-get install -y prometheus"


def prometheus_executable() -> str | None:
    """The installed ``prometheus``, or None."""
    return shutil.which("prometheus")


def scrape_configuration(
    gcc_target: str,
    backend_targets: Sequence[str],
    *,
    gcc_worker_target: str | None = None,
    backend_worker_targets: Sequence[str] = (),
) -> str:
    """The YAML configuration scraping GCC and the customer backends (``host:port`` each).

    The Celery workers count what they do (webhook deliveries, downloads) in their own
    processes, so they get jobs of their own when they serve metrics.
    """
    jobs: dict[str, Sequence[str]] = {
        "gcc-api": [gcc_target],
        "gcc-worker": [gcc_worker_target] if gcc_worker_target else [],
        "customer-backend-api": backend_targets,
        "customer-backend-worker": backend_worker_targets,
    }
    lines = [
        "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n",
        f"rule_files:\n  - {ALERT_RULES}\n",
        "scrape_configs:\n",
    ]
    for job, targets in jobs.items():
        if targets:
            listed = ", ".join(f'"{target}"' for target in targets)
            lines.append(f"  - job_name: {job}\n    static_configs:\n      - targets: [{listed}]\n")
    return "".join(lines)


def prometheus_command(executable: str, directory: Path, port: int) -> list[str]:
    """The command line of a Prometheus whose configuration and data are in ``directory``."""
    return [
        executable,
        f"--config.file={directory / 'prometheus.yml'}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
