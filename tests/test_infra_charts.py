"""The charts that deploy the system itself, checked with the real helm binary."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

CHARTS = Path(__file__).resolve().parent.parent / "infra" / "helm"


def helm(*args: str, cwd: Path) -> str:
    completed = subprocess.run(
        ["helm", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("helm") is None:
        pytest.fail("helm is not on PATH: .ci/install-helm.sh installs it")
    root = tmp_path_factory.mktemp("helm")
    shutil.copytree(CHARTS, root, dirs_exist_ok=True)
    for chart in ("gcc", "customer-stack"):
        helm("dependency", "build", chart, cwd=root)
    return root


def render(charts: Path, chart: str, *values: str) -> list[dict[str, Any]]:
    flags = [flag for value in values for flag in ("--set", value)]
    output = helm("template", "release", chart, *flags, cwd=charts)
    return [document for document in yaml.safe_load_all(output) if document]


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


@pytest.mark.parametrize("chart", ["gcc", "customer-stack"])
def test_chart_lints(charts: Path, chart: str) -> None:
    output = helm("lint", chart, cwd=charts)
    assert "0 chart(s) failed" in output


@pytest.mark.parametrize(
    ("chart", "expected"),
    [("gcc", {"api", "worker", "beat"}), ("customer-stack", {"api", "worker", "beat", "agent"})],
)
def test_every_process_runs_with_settings_and_an_existing_secret(
    charts: Path, chart: str, expected: set[str]
) -> None:
    documents = render(charts, chart)
    deployments = by_kind(documents, "Deployment")
    assert {name.removeprefix("release-") for name in deployments} == expected
    for deployment in deployments.values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        sources = {next(iter(source)) for source in container["envFrom"]}
        assert sources == {"configMapRef", "secretRef"}
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]
    assert deployments["release-beat"]["spec"]["replicas"] == 1
    api = deployments["release-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert not by_kind(documents, "Secret"), "charts take secrets from existing Secrets only"


@pytest.mark.parametrize("chart", ["gcc", "customer-stack"])
def test_migrations_run_as_a_hook_before_the_apis(charts: Path, chart: str) -> None:
    documents = render(charts, chart)
    (job,) = by_kind(documents, "Job").values()
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    (settings,) = by_kind(documents, "ConfigMap").values()
    assert int(settings["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        annotations["helm.sh/hook-weight"]
    )


def test_agent_gets_a_service_account_with_rights_in_its_target_namespace_only(
    charts: Path,
) -> None:
    documents = render(charts, "customer-stack", "agent.targetNamespace=wrktalk-prod")
    agent = by_kind(documents, "Deployment")["release-agent"]["spec"]["template"]["spec"]
    assert agent["serviceAccountName"] == "release-agent"
    assert agent["containers"][0]["image"].startswith("registry.example.com/wrktalk/agent:")
    role = by_kind(documents, "Role")["release-agent"]
    assert role["metadata"]["namespace"] == "wrktalk-prod"
    binding = by_kind(documents, "RoleBinding")["release-agent"]
    assert binding["subjects"][0]["name"] == "release-agent"
    assert not by_kind(documents, "ClusterRole")


def test_missing_existing_secret_is_refused(charts: Path) -> None:
    completed = subprocess.run(
        ["helm", "template", "release", "gcc", "--set", "existingSecret="],
        cwd=charts,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode != 0
    assert "existingSecret is required" in completed.stderr


def test_gcc_mounts_its_manifest_signing_keys_into_every_process(charts: Path) -> None:
    documents = render(charts, "gcc", "manifestSigningSecret=signing-keys")
    settings = by_kind(documents, "ConfigMap")["release-settings"]["data"]
    mount_path = settings["GCC_MANIFEST_SIGNING_KEYS"]
    for deployment in by_kind(documents, "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        [volume] = pod["volumes"]
        assert volume["secret"]["secretName"] == "signing-keys"
        [mount] = pod["containers"][0]["volumeMounts"]
        assert (mount["mountPath"], mount["readOnly"]) == (mount_path, True)


def test_customer_stack_trusts_the_same_manifest_keys_in_backend_and_agent(
    charts: Path,
) -> None:
    documents = render(
        charts,
        "customer-stack",
        "manifestTrustedKeys={ed25519:old,ed25519:new}",
        "agent.stateClaimName=agent-state",
    )
    settings = by_kind(documents, "ConfigMap")["release-settings"]["data"]
    assert settings["WRKTALK_MANIFEST_TRUSTED_KEYS"] == "ed25519:old,ed25519:new"
    assert settings["WRKTALK_AGENT_MANIFEST_TRUSTED_KEYS"] == "ed25519:old,ed25519:new"
    agent = by_kind(documents, "Deployment")["release-agent"]["spec"]["template"]["spec"]
    [volume] = agent["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == "agent-state"
    [mount] = agent["containers"][0]["volumeMounts"]
    assert mount["mountPath"] == settings["WRKTALK_AGENT_STATE_DIR"]


@pytest.mark.parametrize(
    ("chart", "prefix", "scraped"),
    [
        ("gcc", "GCC_", {"api": 9100, "worker": 9101}),
        ("customer-stack", "WRKTALK_", {"api": 9100, "worker": 9101, "agent": 9102}),
    ],
)
def test_pods_with_metrics_carry_scrape_annotations_and_the_port_settings(
    charts: Path, chart: str, prefix: str, scraped: dict[str, int]
) -> None:
    documents = render(charts, chart)
    deployments = by_kind(documents, "Deployment")
    (settings,) = by_kind(documents, "ConfigMap").values()
    for name, deployment in deployments.items():
        component = name.removeprefix("release-")
        template = deployment["spec"]["template"]
        annotations = template["metadata"].get("annotations", {})
        if component not in scraped:
            assert "prometheus.io/scrape" not in annotations, component
            continue
        port = scraped[component]
        assert annotations == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }
        ports = template["spec"]["containers"][0]["ports"]
        assert {"name": "metrics", "containerPort": port} in ports
    variables = {
        "api": "METRICS_PORT",
        "worker": "WORKER_METRICS_PORT",
        "agent": "AGENT_METRICS_PORT",
    }
    for component, port in scraped.items():
        assert settings["data"][prefix + variables[component]] == str(port)
    assert not any(key.endswith("OTLP_ENDPOINT") for key in settings["data"])


@pytest.mark.parametrize(
    ("chart", "variables"),
    [
        ("gcc", {"GCC_OTLP_ENDPOINT"}),
        ("customer-stack", {"WRKTALK_OTLP_ENDPOINT", "WRKTALK_AGENT_OTLP_ENDPOINT"}),
    ],
)
def test_an_otlp_endpoint_reaches_every_process_and_zero_ports_turn_metrics_off(
    charts: Path, chart: str, variables: set[str]
) -> None:
    documents = render(
        charts,
        chart,
        "otlpEndpoint=http://collector:4318",
        "metrics.apiPort=0",
        "metrics.workerPort=0",
        "metrics.agentPort=0",
    )
    (settings,) = by_kind(documents, "ConfigMap").values()
    for variable in variables:
        assert settings["data"][variable] == "http://collector:4318"
    assert not any("METRICS_PORT" in key for key in settings["data"])
    for deployment in by_kind(documents, "Deployment").values():
        assert "annotations" not in deployment["spec"]["template"]["metadata"]
