"""The demo: a release goes from CI upload to deployed customers and back to GCC's history.

``uv run nox -s demo`` runs :func:`main` against a running stack (``uv run nox -s stack``), and
``uv run nox -s demo -- --docker`` against ``docker compose -f docker-compose.dev.yml up``.
The first run publishes the next version; a later run publishes the next one as a forced update
and then rolls the first customer back to the version before it. Each round's release goes out
in two waves: the first customer, placed in the ``canary`` ring, is notified at publish and the
others once it has deployed. Each step is printed with its
duration, and at the end the state GCC records.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from contracts import Version
from tools.stack import (
    CI_TOKEN,
    OPERATOR_TOKEN,
    ROOT,
    CustomerSpec,
    Stack,
    StackConfig,
)
from tools.stack_credentials import CustomerCredentials
from tools.waiting import wait_until

SAMPLES = ROOT / "infra" / "samples"
COMPOSE_FILE = ROOT / "docker-compose.dev.yml"
T = TypeVar("T")


@dataclass
class Timeline:
    """Steps with their durations, printed as they finish."""

    steps: list[tuple[str, float]] = field(default_factory=list)
    out: Callable[[str], None] = print

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Time one step and print it with a progress marker."""
        self.out(f"  … {title}")
        started = time.monotonic()
        yield
        elapsed = time.monotonic() - started
        self.steps.append((title, elapsed))
        self.out(f"  ✓ {title} ({elapsed:.1f}s)")

    def render(self) -> str:
        """The whole timeline as a table."""
        total = sum(duration for _, duration in self.steps)
        lines = [f"  {duration:7.1f}s  {title}" for title, duration in self.steps]
        return "\n".join(["Timeline", *lines, f"  {total:7.1f}s  total"])


def _check(response: httpx.Response) -> None:
    """Raise with the server's own explanation when a call did not succeed."""
    if not response.is_success:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )


def build_chart(version: str, work: Path) -> Path:
    """Package the sample chart at ``version`` with the real helm binary."""
    chart = work / "wrktalk"
    shutil.copytree(SAMPLES / "chart" / "wrktalk", chart)
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text())
    metadata["version"] = version
    metadata["appVersion"] = version
    (chart / "Chart.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False))
    subprocess.run(
        ["helm", "package", str(chart), "--destination", str(work)],
        check=True,
        capture_output=True,
    )
    return work / f"wrktalk-{version}.tgz"


def build_compose_bundle(version: str, work: Path) -> Path:
    """Pack the sample Compose bundle as ``wrktalk-{version}-compose.tar.gz``."""
    bundle = work / f"wrktalk-{version}-compose.tar.gz"
    with tarfile.open(bundle, "w:gz") as archive:
        archive.add(SAMPLES / "compose" / "wrktalk", arcname="wrktalk")
    return bundle


TWO_WAVES: dict[str, Any] = {
    "waves": [
        # the canary ring first; the rest as soon as every canary deployed it
        {"rings": ["canary"], "bakeMinutes": 0, "advanceWhen": "success", "successThreshold": 1},
        {"percent": 100, "bakeMinutes": 0},
    ]
}
"""The demo's rollout plan: the first customer (placed in the canary ring), then the others."""


class Demo:
    """Drives the stack's public APIs the way CI and admins do."""

    def __init__(
        self,
        stack: Stack,
        timeline: Timeline | None = None,
        *,
        ci_token: str = CI_TOKEN,
        operator_token: str = OPERATOR_TOKEN,
    ) -> None:
        """Use the running ``stack`` (its URLs and saved credentials)."""
        self.stack = stack
        self.timeline = timeline or Timeline()
        self.gcc = httpx.Client(base_url=stack.config.gcc_url, timeout=60)
        self.ci = {"Authorization": f"Bearer {ci_token}"}
        self.operator = {"Authorization": f"Bearer {operator_token}"}

    def backend(self, name: str) -> httpx.Client:
        """A Control Tower client for customer ``name``, as its admin."""
        customer = next(c for c in self.stack.config.customers if c.name == name)
        token = self.stack.credentials[name].admin_token
        return httpx.Client(
            base_url=self.stack.config.customer_url(customer),
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )

    def published_versions(self) -> list[Version]:
        """Versions GCC has published so far."""
        response = self.gcc.get("/api/operator/releases", headers=self.operator)
        response.raise_for_status()
        body = response.json()
        releases = body["releases"] if isinstance(body, dict) else body
        return sorted(Version.parse(release["version"]) for release in releases)

    def release(self, version: str, *, forced: bool, rollout: dict[str, Any] | None = None) -> None:
        """Upload both artifacts, create the release and publish it (in the waves of
        ``rollout`` when given), as CI does."""
        self.upload_artifacts(version)
        self.publish(version, forced=forced, rollout=rollout)

    def place_in_ring(self, name: str, ring: str) -> None:
        """Put organization ``name`` in a rollout ring, as an operator does."""
        with self.timeline.step(f"the operator places {name} in the {ring} ring"):
            response = self.gcc.patch(
                f"/api/operator/organizations/{name}", headers=self.operator, json={"ring": ring}
            )
            _check(response)

    def upload_artifacts(self, version: str) -> None:
        """Build the sample Helm chart and Compose bundle of ``version`` and upload both."""
        with tempfile.TemporaryDirectory() as work_dir:
            work = Path(work_dir)
            with self.timeline.step(f"CI uploads the Helm chart and Compose bundle of {version}"):
                for artifact_type, path in (
                    ("helm", build_chart(version, work)),
                    ("compose", build_compose_bundle(version, work)),
                ):
                    with path.open("rb") as file:
                        response = self.gcc.post(
                            "/api/internal/artifacts",
                            headers=self.ci,
                            data={"type": artifact_type, "version": version},
                            files={"file": (path.name, file, "application/gzip")},
                        )
                    _check(response)

    def publish(self, version: str, *, forced: bool, rollout: dict[str, Any] | None = None) -> None:
        """Create the release of the uploaded artifacts and publish it (in waves with a
        ``rollout`` plan)."""
        waves = f" in {len(rollout['waves'])} waves" if rollout else ""
        with self.timeline.step(
            f"CI creates and publishes {version}" + (" (forced)" if forced else "") + waves
        ):
            tag = f"sha-{version.replace('.', '')}"
            response = self.gcc.post(
                "/api/internal/releases",
                headers=self.ci,
                json={
                    "version": version,
                    "imageTags": {
                        "backend": tag,
                        "media": tag,
                        "controlTower": tag,
                        "agent": tag,
                    },
                    "isForced": forced,
                    "releaseNotes": f"Demo release {version}",
                    "newNonEssentialEnvs": [{"key": "DEMO_FEATURE", "value": "on"}],
                },
            )
            response.raise_for_status()
            response = self.gcc.post(
                f"/api/internal/releases/{version}/publish",
                headers=self.ci,
                json={"rollout": rollout} if rollout else None,
            )
            response.raise_for_status()

    def wait_for_download(self, name: str, version: str) -> dict[str, Any]:
        """Wait until customer ``name`` holds ``version`` verified in its bucket."""

        def downloaded() -> dict[str, Any] | None:
            with self.backend(name) as client:
                body = client.get("/api/admin/deployment/releases").json()
            for deployment in body.get("pending", []):
                if deployment["version"] == version and deployment["isChartDownloaded"]:
                    return dict(deployment)
            return None

        return wait_until(downloaded, timeout=120, what=f"{name} to download {version}")

    def schedule_now(self, name: str, deployment_id: str) -> None:
        """Schedule the deployment a moment from now, as an admin."""
        scheduled_for = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        with self.backend(name) as client:
            response = client.post(
                "/api/admin/deployment/schedule",
                json={"deploymentId": deployment_id, "scheduledFor": scheduled_for},
            )
        _check(response)

    def wait_for_deployment(self, name: str, deployment_id: str) -> dict[str, Any]:
        """Wait until the agent finished the deployment; fail loudly when it failed."""

        def finished() -> dict[str, Any] | None:
            with self.backend(name) as client:
                body = client.get(f"/api/admin/deployment/{deployment_id}").json()
            deployment = body["deployment"]
            if deployment["status"] in {"success", "failed", "rolledBack"}:
                return dict(deployment)
            return None

        deployment = wait_until(finished, timeout=180, what=f"{name}'s agent to deploy")
        if deployment["status"] != "success":
            raise RuntimeError(f"{name}: deployment {deployment['status']}: {deployment}")
        return deployment

    def wait_for_gcc_version(self, name: str, version: str) -> None:
        """Wait until GCC records ``version`` as the organization's current version."""

        def recorded() -> bool:
            response = self.gcc.get(f"/api/operator/organizations/{name}", headers=self.operator)
            return response.is_success and response.json().get("currentVersion") == version

        wait_until(recorded, timeout=120, what=f"GCC to record {name} at {version}")

    def deliver(self, version: str) -> None:
        """Wait for every customer to download, schedule each now, and wait for the agents."""
        for customer in self.stack.config.customers:
            with self.timeline.step(f"{customer.name} receives, verifies and stores {version}"):
                deployment = self.wait_for_download(customer.name, version)
            with self.timeline.step(f"{customer.name}'s admin schedules {version} now"):
                self.schedule_now(customer.name, deployment["id"])
            with self.timeline.step(f"{customer.name}'s agent deploys {version}"):
                self.wait_for_deployment(customer.name, deployment["id"])
            with self.timeline.step(f"GCC records {customer.name} at {version}"):
                self.wait_for_gcc_version(customer.name, version)

    def roll_back(self, name: str, version: str) -> None:
        """Roll customer ``name`` back to ``version`` through the Control Tower."""
        with self.timeline.step(f"{name}'s admin rolls back to {version}"):
            with self.backend(name) as client:
                response = client.post(
                    "/api/admin/deployment/rollback", json={"targetVersion": version}
                )
            _check(response)
        with self.timeline.step(f"GCC records {name} back at {version}"):
            self.wait_for_gcc_version(name, version)

    def gcc_state(self) -> str:
        """Each organization's current version and recent history, as GCC records them."""
        lines = ["GCC state"]
        for customer in self.stack.config.customers:
            response = self.gcc.get(
                f"/api/operator/organizations/{customer.name}", headers=self.operator
            )
            body = response.json()
            lines.append(
                f"  {customer.name}: current {body.get('currentVersion')}, "
                f"health {body.get('healthStatus')}"
            )
            history = self.gcc.get(
                f"/api/operator/organizations/{customer.name}/versions", headers=self.operator
            ).json()
            for entry in history.get("versions", [])[:5]:
                marker = " (rollback)" if entry.get("isRollback") else ""
                lines.append(
                    f"    {entry['deployedAt']}  {entry['releaseVersion']}  "
                    f"{entry['status']}{marker}"
                )
        return "\n".join(lines)

    def run(self) -> None:
        """One demo round: a normal release, or a forced one plus a rollback when one exists,
        published in two waves (the first customer, then the others once it deployed)."""
        published = self.published_versions()
        previous = published[-1] if published else None
        base = previous or Version.parse("1.0.0")
        version = f"{base.major}.{base.minor + 1}.0"
        forced = previous is not None
        print(f"Demo: publishing {version}" + (" as a forced update" if forced else ""))
        # two waves: the first customer (canary) deploys first, the others are notified after
        self.place_in_ring(self.stack.config.customers[0].name, "canary")
        self.release(version, forced=forced, rollout=TWO_WAVES)
        self.deliver(version)
        if previous is not None:
            self.roll_back(self.stack.config.customers[0].name, str(previous))
        print(self.timeline.render())
        print(self.gcc_state())


@dataclass(frozen=True)
class DockerStack:
    """What the demo needs from the Docker development stack, read from its compose file."""

    config: StackConfig
    ci_token: str
    operator_token: str
    admin_token_files: dict[str, str]
    """Per customer, where its ``-admin`` service wrote the Control Tower token (in the
    credentials volume)."""


def _host_port(service: dict[str, Any]) -> int:
    return int(str(service["ports"][0]).split(":")[0])


def _option(command: list[str], name: str) -> str:
    prefix = f"--{name}="
    return next(part[len(prefix) :] for part in command if part.startswith(prefix))


def read_docker_stack(compose_file: Path = COMPOSE_FILE) -> DockerStack:
    """Ports, tokens and customers of ``docker-compose.dev.yml``, as published on localhost."""
    services: dict[str, Any] = yaml.safe_load(compose_file.read_text())["services"]
    gcc_environment = services["gcc-api"]["environment"]
    customers = []
    token_files = {}
    for name, service in services.items():
        if not name.endswith("-register"):
            continue
        organization = _option(service["command"], "name")
        customers.append(
            CustomerSpec(
                organization,
                _host_port(services[f"{organization}-api"]),
                redis_db=0,
                deployment_type=_option(service["command"], "deployment-type"),
            )
        )
        token_files[organization] = _option(
            services[f"{organization}-admin"]["command"], "token-file"
        )
    return DockerStack(
        config=StackConfig(gcc_port=_host_port(services["gcc-api"]), customers=tuple(customers)),
        ci_token=gcc_environment["GCC_CI_TOKEN"],
        operator_token=gcc_environment["GCC_OPERATOR_TOKEN"],
        admin_token_files=token_files,
    )


def docker_demo(compose_file: Path = COMPOSE_FILE) -> Demo:
    """The demo against ``docker compose -f docker-compose.dev.yml up``: admin tokens are read
    from the credentials volume through the running API containers."""
    docker = read_docker_stack(compose_file)
    stack = Stack(docker.config)
    compose = ["docker-compose"] if shutil.which("docker-compose") else ["docker", "compose"]
    for organization, token_file in docker.admin_token_files.items():
        completed = subprocess.run(
            [
                *compose,
                "-f",
                str(compose_file),
                "exec",
                "-T",
                f"{organization}-api",
                "cat",
                token_file,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"cannot read {organization}'s admin token ({completed.stderr.strip()}): is "
                "`docker compose -f docker-compose.dev.yml up` running?"
            )
        stack.credentials[organization] = CustomerCredentials(
            api_key="",
            webhook_secret="",
            admin_email=f"admin@{organization}.local",
            admin_token=completed.stdout.strip(),
        )
    return Demo(stack, ci_token=docker.ci_token, operator_token=docker.operator_token)


def main(argv: list[str] | None = None) -> int:
    """Run the demo against the stack started by ``nox -s stack``, or with ``--docker`` against
    the Docker development stack."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--docker" in args:
        try:
            demo = docker_demo()
        except RuntimeError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        demo.run()
        return 0
    stack = Stack(StackConfig())
    stack.load_credentials()
    if not stack.credentials:
        print("no running stack found: start it first with `uv run nox -s stack`", file=sys.stderr)
        return 2
    Demo(stack).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
