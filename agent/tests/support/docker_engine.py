"""A real Docker Engine for the Compose tests, with a registry on loopback and tiny images.

Nothing is installed here: a missing piece skips the tests, naming ``.ci/install-docker.sh``.
Debian's ``docker.io`` daemon runs in the background with its own data root, socket and no
bridge network, iptables or NAT (the test containers run with ``network_mode: none``). Debian's
``docker-registry`` serves on a loopback port, which dockerd trusts without TLS. The images hold
a static busybox and nothing else (what ``FROM scratch`` plus busybox builds), imported and
pushed as ``127.0.0.1:<port>/wrktalk/app``:

- ``v1``, ``v2``: ``sleep`` forever (same content, two tags), healthy;
- ``crash``: exits with code 3 right after starting.

No tag ``missing`` exists, so pulling it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from wrktalk_testing.network import free_port

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
INSTALL_SCRIPT = REPOSITORY_ROOT / ".ci" / "install-docker.sh"
REQUIRED_COMMANDS = ("dockerd", "docker", "docker-compose", "docker-registry", "git")
BUSYBOX = Path("/bin/busybox")
START_TIMEOUT = 60.0


class DockerUnavailable(Exception):
    """Docker cannot be installed or started here; the message says why."""


@dataclass
class DockerEngine:
    """A running dockerd and registry; ``registry`` is ``127.0.0.1:<port>``."""

    root: Path
    socket: Path
    registry: str
    dockerd: subprocess.Popen[bytes]
    registry_process: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        """The ``DOCKER_HOST`` value of this engine."""
        return f"unix://{self.socket}"

    def image(self, tag: str) -> str:
        """The app image reference with ``tag``."""
        return f"{self.registry}/wrktalk/app:{tag}"

    def docker(self, *arguments: str, check: bool = True) -> str:
        """Run the docker CLI against this engine; its stdout."""
        result = subprocess.run(
            ["docker", *arguments],
            env={**os.environ, "DOCKER_HOST": self.host},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"docker {' '.join(arguments)} failed: {result.stderr}")
        return result.stdout

    def remove_all_containers(self) -> None:
        """Remove every container at once (the sleepers ignore SIGTERM as PID 1)."""
        identifiers = self.docker("ps", "--all", "--quiet").split()
        if identifiers:
            self.docker("rm", "--force", *identifiers, check=False)

    def stop(self) -> None:
        """Stop the registry and the daemon and remove their files."""
        self.remove_all_containers()
        for process in (self.registry_process, self.dockerd):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def ensure_installed() -> None:
    """Refuse (the tests skip with the message) when a piece is missing: a test run never
    changes the machine; ``.ci/run`` installs Docker with the CI script before the tests."""
    missing = _missing()
    if missing:
        raise DockerUnavailable(
            f"missing {', '.join(missing)}: install them with "
            f"`sudo bash .ci/install-docker.sh` (as .ci/run does), then run the tests again"
        )


def _missing() -> list[str]:
    missing = [name for name in REQUIRED_COMMANDS if shutil.which(name) is None]
    if not BUSYBOX.exists():
        missing.append(str(BUSYBOX))
    return missing


def start_engine() -> DockerEngine:
    """Start dockerd and the registry, build and push the test images."""
    ensure_installed()
    # Short paths: unix socket paths are limited to 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="wt-docker-"))
    socket = root / "docker.sock"
    log = (root / "dockerd.log").open("wb")
    dockerd = subprocess.Popen(
        [
            "dockerd",
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(root / "exec"),
            "--pidfile",
            str(root / "dockerd.pid"),
            "--host",
            f"unix://{socket}",
            "--bridge=none",
            "--iptables=false",
            "--ip-forward=false",
            "--ip-masq=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    registry_process: subprocess.Popen[bytes] | None = None
    try:
        _wait_for_daemon(socket, dockerd, root)
        port = free_port()
        registry_process = _start_registry(root, port)
        engine = DockerEngine(root, socket, f"127.0.0.1:{port}", dockerd, registry_process)
        _build_images(engine)
        return engine
    except BaseException:
        for process in (registry_process, dockerd):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
        raise


def _wait_for_daemon(socket: Path, dockerd: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if dockerd.poll() is not None:
            tail = (root / "dockerd.log").read_text(errors="replace")[-800:]
            raise DockerUnavailable(f"dockerd exited with {dockerd.returncode}: {tail}")
        probe = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            env={**os.environ, "DOCKER_HOST": f"unix://{socket}"},
            capture_output=True,
            timeout=30,
            check=False,
        )
        if probe.returncode == 0:
            return
        time.sleep(0.2)
    raise DockerUnavailable("dockerd did not answer within a minute")


def _start_registry(root: Path, port: int) -> subprocess.Popen[bytes]:
    config = root / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'registry'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=(root / "registry.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DockerUnavailable("docker-registry exited at start")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise DockerUnavailable("docker-registry did not answer")


def _build_images(engine: DockerEngine) -> None:
    """Import a root filesystem of busybox and its applets (the same as building ``FROM
    scratch`` with it, without a build container) and push the tags."""
    root_filesystem = engine.root / "rootfs.tar"
    with tarfile.open(root_filesystem, "w") as archive:
        archive.add(BUSYBOX, arcname="bin/busybox")
        for applet in ("sh", "sleep", "true", "echo"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            archive.addfile(link)
    commands = {"v1": '["sleep", "3600"]', "crash": '["sh", "-c", "echo starting; exit 3"]'}
    for tag, command in commands.items():
        engine.docker(
            "import", "--change", f"CMD {command}", str(root_filesystem), engine.image(tag)
        )
        engine.docker("push", engine.image(tag))
    engine.docker("tag", engine.image("v1"), engine.image("v2"))
    engine.docker("push", engine.image("v2"))
    # The agent must pull: nothing of the registry's may be in the engine's cache.
    for tag in ("v1", "v2", "crash"):
        engine.docker("rmi", engine.image(tag))
