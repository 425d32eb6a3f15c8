"""The Docker development stack's file is valid for Docker Compose and wires every process."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tools.demo import read_docker_stack

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


def test_customers_get_their_credentials_from_gcc_without_manual_steps() -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    for organization in ("acme", "globex"):
        register = services[f"{organization}-register"]
        assert register["command"][:2] == ["org", "add"]
        assert "--if-absent" in register["command"]
        assert register["depends_on"]["gcc-migrate"]["condition"] == (
            "service_completed_successfully"
        )
        credentials_dir = next(
            part.split("=", 1)[1]
            for part in register["command"]
            if part.startswith("--credentials-dir=")
        )
        migrate = services[f"{organization}-migrate"]
        assert migrate["depends_on"][f"{organization}-register"]["condition"] == (
            "service_completed_successfully"
        )
        for process in ("api", "worker", "beat"):
            service = services[f"{organization}-{process}"]
            assert service["environment"]["WRKTALK_SECRETS_DIR"] == credentials_dir
            assert "WRKTALK_GCC_API_KEY" not in service["environment"]
            assert "credentials:/var/lib/wrktalk/credentials" in service["volumes"]
            assert service["depends_on"][f"{organization}-migrate"]["condition"] == (
                "service_completed_successfully"
            )
        assert "credentials:/var/lib/wrktalk/credentials" in register["volumes"]
        admin = services[f"{organization}-admin"]
        assert admin["command"][:2] == ["admin", "add"]
        assert "--if-absent" in admin["command"]


def test_the_demo_reads_the_docker_stack_from_the_compose_file() -> None:
    docker = read_docker_stack(COMPOSE_FILE)

    assert docker.config.gcc_url == "http://127.0.0.1:8000"
    customers = {customer.name: customer for customer in docker.config.customers}
    assert docker.config.customer_url(customers["acme"]) == "http://127.0.0.1:3001"
    assert docker.config.customer_url(customers["globex"]) == "http://127.0.0.1:3002"
    assert (customers["acme"].deployment_type, customers["globex"].deployment_type) == (
        "gitops",
        "docker",
    )
    assert docker.ci_token == "dev-ci-token"
    assert docker.operator_token == "dev-operator-token"
    assert docker.admin_token_files == {
        "acme": "/var/lib/wrktalk/credentials/acme-admin-token",
        "globex": "/var/lib/wrktalk/credentials/globex-admin-token",
    }


def test_agents_have_a_working_copy_and_the_docker_socket() -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    gitops = services["acme-agent"]
    repository = gitops["environment"]["WRKTALK_AGENT_GITOPS_REPO"]
    assert gitops["depends_on"]["acme-gitops-init"]["condition"] == (
        "service_completed_successfully"
    )
    init = services["acme-gitops-init"]
    assert f"git init -q -b main {repository}" in init["command"][0]
    # both mount the same volume where the image's agent user owns the directory
    assert gitops["volumes"] == init["volumes"] == ["acme-gitops:/var/lib/wrktalk-agent"]
    assert repository.startswith("/var/lib/wrktalk-agent/")

    compose = services["globex-agent"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in compose["volumes"]
    assert compose["group_add"]
    assert "globex-compose:/var/lib/wrktalk-agent" in compose["volumes"]


def test_backends_and_agents_trust_the_key_gcc_signs_with() -> None:
    """A release published on the laptop stack passes every hop's manifest check."""
    from signing import load_signing_keys

    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    mount = "./infra/docker/dev-manifest-key.pem:/etc/wrktalk/dev-manifest-key.pem:ro"
    public = load_signing_keys(COMPOSE_FILE.parent / "infra/docker/dev-manifest-key.pem")[0]
    for name in ("gcc-api", "gcc-worker", "gcc-beat", "acme-register", "globex-register"):
        assert mount in services[name]["volumes"], name
        assert services[name]["environment"]["GCC_MANIFEST_SIGNING_KEYS"] == (
            "/etc/wrktalk/dev-manifest-key.pem"
        )
    for customer in ("acme", "globex"):
        backend = services[f"{customer}-api"]["environment"]
        agent = services[f"{customer}-agent"]["environment"]
        assert backend["WRKTALK_MANIFEST_TRUSTED_KEYS"] == public.public_text()
        assert agent["WRKTALK_AGENT_MANIFEST_TRUSTED_KEYS"] == public.public_text()


def test_prometheus_scrapes_every_process_on_the_port_it_serves_metrics_on() -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    prometheus = services["prometheus"]
    assert prometheus["build"]["dockerfile"] == "infra/docker/prometheus.Dockerfile"
    assert prometheus["ports"] == ["9090:9090"]
    scrape = yaml.safe_load(
        (COMPOSE_FILE.parent / "infra" / "prometheus" / "prometheus.yml").read_text()
    )
    targets = {
        target: job["job_name"]
        for job in scrape["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    for target, job in targets.items():
        host, port = target.split(":")
        assert host in services, f"{job} scrapes {host}, which the stack does not run"
        environment = services[host].get("environment", {})
        if job.endswith("-api"):
            # a metrics port of its own would take /metrics off the API's listener
            own = [key for key in environment if key.endswith("_METRICS_PORT")]
            assert all("WORKER" in key for key in own), f"{host} serves metrics on {own}"
            continue
        served = {value for key, value in environment.items() if key.endswith("METRICS_PORT")}
        assert served == {port}, f"{host} serves its metrics on {served}, {job} scrapes {port}"
    scraped_hosts = {target.split(":")[0] for target in targets}
    for tier in ("gcc", "acme", "globex"):
        assert {f"{tier}-api", f"{tier}-worker"} <= scraped_hosts
    assert {"acme-agent", "globex-agent"} <= scraped_hosts
