"""The image and the Kubernetes manifests the agent ships with."""

from pathlib import Path
from typing import Any

import yaml

from wrktalk_agent.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "infra" / "k8s" / "agent"
DOCKERFILE = ROOT / "infra" / "docker" / "agent.Dockerfile"


def manifests() -> dict[str, dict[str, Any]]:
    documents = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            documents[document["kind"]] = document
    return documents


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(manifests()["Kustomization"]["resources"])
    present = {path.name for path in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_the_deployment_runs_under_the_service_account_that_the_role_is_bound_to() -> None:
    documents = manifests()
    account = documents["ServiceAccount"]["metadata"]["name"]
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    binding = documents["RoleBinding"]
    assert pod["serviceAccountName"] == account
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account}]
    assert binding["roleRef"]["name"] == documents["Role"]["metadata"]["name"]


def test_the_role_lets_helm_keep_its_release_history_and_manage_workloads() -> None:
    rules = manifests()["Role"]["rules"]

    def allowed(group: str, resource: str, verb: str) -> bool:
        return any(
            group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
            for rule in rules
        )

    for group, resource in [("", "secrets"), ("apps", "deployments"), ("batch", "jobs")]:
        for verb in ("get", "list", "watch", "create", "update", "patch", "delete"):
            assert allowed(group, resource, verb), (group, resource, verb)
    assert manifests()["Role"]["kind"] == "Role"  # namespaced: nothing cluster-wide


def test_the_pod_outlives_the_agents_shutdown_grace_period() -> None:
    documents = manifests()
    settings = documents["ConfigMap"]["data"]
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    grace = float(settings["WRKTALK_AGENT_SHUTDOWN_GRACE_PERIOD"])
    assert pod["terminationGracePeriodSeconds"] > grace + 10


def test_every_configured_variable_is_an_agent_setting() -> None:
    documents = manifests()
    container = documents["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    names = set(documents["ConfigMap"]["data"]) | {entry["name"] for entry in container["env"]}
    names |= {
        line.split("=")[0].strip()
        for line in DOCKERFILE.read_text().replace("\\\n", "\n").splitlines()
        if line.strip().startswith("WRKTALK_AGENT_")
    }
    fields = {f"WRKTALK_AGENT_{name.upper()}" for name in Settings.model_fields}
    assert names - fields == set()
    assert "WRKTALK_AGENT_AGENT_SECRET" in names
