"""The Docker development stack's file is valid for Docker Compose and wires every process."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker-compose.dev.yml"


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        return ["docker", "compose"]
    pytest.fail("neither docker-compose nor docker is installed: .ci/install-docker.sh does it")


def test_compose_file_is_valid() -> None:
    completed = subprocess.run(
        [*compose_command(), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


def test_apis_start_after_their_migrations() -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    for tier in ("gcc", "acme", "globex"):
        assert services[f"{tier}-migrate"]["command"] == ["migrate"]
        api = services[f"{tier}-api"]
        assert api["depends_on"][f"{tier}-migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert "readyz" in " ".join(api["healthcheck"]["test"])
    for agent in ("acme-agent", "globex-agent"):
        api = agent.replace("agent", "api")
        assert services[agent]["depends_on"][api]["condition"] == "service_healthy"
