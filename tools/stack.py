"""The embedded local stack: every tier as real processes on this machine.

``uv run nox -s stack`` runs :func:`main`: a moto S3 server, an SMTP server that writes every
email to ``var/mail/`` (a Maildir), GCC (api, worker, beat), and two customer stacks (api,
worker, beat and an agent in GitOps mode committing to a Git repository under ``var/``), all
against the machine's PostgreSQL and Redis. It prints the URLs and tokens a person needs and
stops everything on Ctrl-C. The end-to-end tests start the same :class:`Stack`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from signing import SigningKey, load_signing_keys
from tools import stack_prometheus
from tools.stack_credentials import (
    CredentialStore,
    CustomerCredentials,
    StackError,
    legacy_credentials,
)
from tools.waiting import run_sync, wait_until

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR = ROOT / "var"
ADMIN_DSN = os.environ.get(
    "WRKTALK_STACK_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE = os.environ.get("WRKTALK_STACK_REDIS_URL", "redis://127.0.0.1:6379")
CI_TOKEN = "stack-ci-token"  # noqa: S105 - the local stack only
OPERATOR_TOKEN = "stack-operator-token"  # noqa: S105 - the local stack only
STACK_OPERATOR_EMAIL = "ops@wrktalk.local"
"""The named operator the stack adds to GCC, who signs in to GCC's console."""
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "stack",
    "AWS_SECRET_ACCESS_KEY": "stack",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class CustomerSpec:
    """One customer installation of the stack."""

    name: str
    port: int
    redis_db: int
    deployment_type: str = "gitops"
    gcc_url: str | None = None
    """How this customer's backend reaches GCC (default: GCC's own URL; a test puts a relay
    there to cut the link)."""
    webhook_url: str | None = None
    """Where GCC sends this customer's webhooks (default: the backend's own URL)."""
    worker_metrics_port: int | None = None
    """Where the backend's Celery worker serves ``/metrics``; None: it serves none."""


@dataclass
class StackConfig:
    """Ports, databases and intervals of one stack."""

    var: Path = DEFAULT_VAR
    prefix: str = "wrktalk_stack"
    gcc_port: int = 8000
    s3_port: int = 5055
    smtp_port: int = 2525
    gcc_redis_db: int = 10
    customers: tuple[CustomerSpec, ...] = (
        CustomerSpec("acme", 3001, 11, worker_metrics_port=9111),
        CustomerSpec("globex", 3002, 12, worker_metrics_port=9112),
    )
    poll_interval: float = 5.0
    heartbeat_interval: float = 10.0
    gcc_poll_interval: float = 30.0
    dispatch_interval: float = 2.0
    webhook_retry_delay: float = 60.0
    prometheus_port: int | None = 9090
    """Where Prometheus listens when it is installed; None: not started."""
    gcc_worker_metrics_port: int | None = 9101
    """Where GCC's Celery worker serves ``/metrics`` (deliveries are counted there)."""
    extra_gcc_env: dict[str, str] = field(default_factory=dict)
    extra_backend_env: dict[str, str] = field(default_factory=dict)
    postgres_dsn: str = ADMIN_DSN
    """The PostgreSQL server's admin DSN; the stack's databases are created beside it."""
    redis_base: str = REDIS_BASE
    """The Redis server's URL, without a database number."""
    operator_token: str = OPERATOR_TOKEN
    """GCC's operator token (the stack registers its organizations with it)."""

    @property
    def gcc_url(self) -> str:
        """GCC's base URL."""
        return f"http://127.0.0.1:{self.gcc_port}"

    @property
    def s3_url(self) -> str:
        """The S3 endpoint."""
        return f"http://127.0.0.1:{self.s3_port}"

    def customer_url(self, customer: CustomerSpec) -> str:
        """A customer backend's base URL."""
        return f"http://127.0.0.1:{customer.port}"

    def database_url(self, name: str) -> str:
        """The asyncpg URL of one of the stack's databases."""
        base = self.postgres_dsn.rsplit("/", 1)[0]
        base = base.replace("postgresql://", "postgresql+asyncpg://", 1)
        return f"{base}/{self.prefix}_{name}"


@dataclass
class Process:
    """A child process of the stack, in its own process group, logging to a file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        """The process has not exited."""
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Signal the process group and wait; kill it when it does not exit in time."""
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=timeout)
        except ProcessLookupError:
            pass


class Stack:
    """Start, inspect and stop every process of the local stack."""

    def __init__(self, config: StackConfig | None = None) -> None:
        """Prepare the stack; nothing runs until :meth:`start`."""
        self.config = config or StackConfig()
        self.processes: dict[str, Process] = {}
        self.credentials: dict[str, CustomerCredentials] = {}
        self.credential_store = CredentialStore(self.config.postgres_dsn, self.config.prefix)
        self.logs = self.config.var / "logs"

    # -- environments -------------------------------------------------------------------

    @property
    def manifest_keys_dir(self) -> Path:
        """Where GCC's manifest signing key lives (kept between runs, like the credentials)."""
        return self.config.var / "manifest-keys"

    def manifest_public_key(self) -> str:
        """The public key of the stack's manifest signing key, made on first use."""
        directory = self.manifest_keys_dir
        if not any(directory.glob("*.pem")):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = SigningKey.generate()
            path = directory / f"{key.key_id}.pem"
            path.write_bytes(key.private_pem())
            path.chmod(0o600)
        return load_signing_keys(directory)[0].public_text()

    def gcc_env(self) -> dict[str, str]:
        """The environment of every GCC process."""
        config = self.config
        self.manifest_public_key()  # GCC reads the key file as it starts
        return {
            **AWS_ENV,
            "GCC_DATABASE_URL": config.database_url("gcc"),
            "GCC_REDIS_URL": f"{config.redis_base}/{config.gcc_redis_db}",
            "GCC_S3_ENDPOINT_URL": config.s3_url,
            "GCC_BUCKET_NAME": "gcc-artifacts",
            "GCC_CI_TOKEN": CI_TOKEN,
            "GCC_OPERATOR_TOKEN": config.operator_token,
            "GCC_ALLOW_HTTP_WEBHOOKS": "true",
            "GCC_SMTP_HOST": "127.0.0.1",
            "GCC_SMTP_PORT": str(config.smtp_port),
            "GCC_ADMIN_EMAILS": "gcc-ops@wrktalk.local",
            "GCC_DISPATCH_INTERVAL_SECONDS": str(config.dispatch_interval),
            "GCC_WEBHOOK_RETRY_DELAY_SECONDS": str(config.webhook_retry_delay),
            "GCC_HEALTH_INTERVAL_SECONDS": "30",
            # the demo's second wave opens at the first evaluation after the canary deployed
            "GCC_ROLLOUT_INTERVAL_SECONDS": str(config.dispatch_interval),
            "GCC_MANIFEST_SIGNING_KEYS": str(self.manifest_keys_dir),
            "GCC_LOG_JSON": "true",
            **config.extra_gcc_env,
        }

    def backend_env(self, customer: CustomerSpec) -> dict[str, str]:
        """The environment of a customer's backend processes."""
        config = self.config
        credentials = self.credentials[customer.name]
        return {
            **AWS_ENV,
            "WRKTALK_ORGANIZATION_NAME": customer.name,
            "WRKTALK_DEPLOYMENT_TYPE": customer.deployment_type,
            "WRKTALK_DATABASE_URL": config.database_url(customer.name),
            "WRKTALK_REDIS_URL": f"{config.redis_base}/{customer.redis_db}",
            "WRKTALK_GCC_ENDPOINT": customer.gcc_url or config.gcc_url,
            "WRKTALK_GCC_API_KEY": credentials.api_key,
            "WRKTALK_GCC_POLL_INTERVAL": str(config.gcc_poll_interval),
            "WRKTALK_WEBHOOK_SECRET": credentials.webhook_secret,
            "WRKTALK_AGENT_SECRET": f"{customer.name}-agent-secret",
            "WRKTALK_BUCKET_PROVIDER": "s3",
            "WRKTALK_BUCKET_NAME": f"{customer.name}-bucket",
            "WRKTALK_BUCKET_ENDPOINT": config.s3_url,
            "WRKTALK_SMTP_HOST": "127.0.0.1",
            "WRKTALK_SMTP_PORT": str(config.smtp_port),
            "WRKTALK_SMTP_FROM": f"deployments@{customer.name}.local",
            "WRKTALK_MANIFEST_TRUSTED_KEYS": self.manifest_public_key(),
            # each customer's own: a customer's sweep removes the staged files its database
            # does not await, and both customers download the same releases
            "WRKTALK_STAGING_DIRECTORY": str(config.var / "staging" / customer.name),
            "WRKTALK_LOG_JSON": "true",
            "WRKTALK_CONSOLE_URL": f"{config.customer_url(customer)}/console",
            "WRKTALK_CONSOLE_PLAIN_HTTP": "true",
            **config.extra_backend_env,
        }

    def agent_env(self, customer: CustomerSpec) -> dict[str, str]:
        """The environment of a customer's agent."""
        config = self.config
        return {
            "WRKTALK_AGENT_BACKEND_URL": config.customer_url(customer),
            "WRKTALK_AGENT_AGENT_SECRET": f"{customer.name}-agent-secret",
            "WRKTALK_AGENT_DEPLOYMENT_TYPE": customer.deployment_type,
            "WRKTALK_AGENT_POLL_INTERVAL": str(config.poll_interval),
            "WRKTALK_AGENT_HEARTBEAT_INTERVAL": str(config.heartbeat_interval),
            "WRKTALK_AGENT_GITOPS_REPO": str(self.gitops_repo(customer)),
            "WRKTALK_AGENT_GITOPS_PATH": "wrktalk",
            "WRKTALK_AGENT_COMPOSE_WORKING_DIR": str(config.var / "compose" / customer.name),
            "WRKTALK_AGENT_MANIFEST_TRUSTED_KEYS": self.manifest_public_key(),
            "WRKTALK_AGENT_STATE_DIR": str(config.var / "agent-state" / customer.name),
        }

    def gitops_repo(self, customer: CustomerSpec) -> Path:
        """The Git working copy a customer's agent commits rendered manifests to."""
        return self.config.var / "gitops" / customer.name

    # -- processes ----------------------------------------------------------------------

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        """Start a child process in its own group, logging to ``var/logs/<name>.log``.

        Each runs in ``var/run/<name>/``, so files a process keeps in its working directory
        (beat's schedule) stay out of the checkout.
        """
        self.logs.mkdir(parents=True, exist_ok=True)
        workdir = self.config.var / "run" / name
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{name}.log"
        log_file = log_path.open("ab")
        popen = subprocess.Popen(
            args,
            cwd=workdir,
            env={**os.environ, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        process = Process(name, popen, log_path)
        self.processes[name] = process
        return process

    def run_command(self, args: list[str], env: dict[str, str]) -> str:
        """Run a one-off command (migrate, admin add) and return its standard output."""
        completed = subprocess.run(
            args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{completed.stderr[-3000:]}")
        return completed.stdout

    def start_gcc(self) -> None:
        """Migrate GCC and start its api, worker and beat."""
        env = self.gcc_env()
        self.run_command([sys.executable, "-m", "gcc.cli", "migrate"], env)
        self.add_operator(env)
        self.spawn(
            "gcc-api",
            [sys.executable, "-m", "gcc.cli", "serve", "--port", str(self.config.gcc_port)],
            env,
        )
        worker_env = dict(env)
        if self.config.gcc_worker_metrics_port is not None:
            worker_env["GCC_WORKER_METRICS_PORT"] = str(self.config.gcc_worker_metrics_port)
        self.spawn("gcc-worker", [sys.executable, "-m", "gcc.cli", "worker"], worker_env)
        self.spawn("gcc-beat", [sys.executable, "-m", "gcc.cli", "beat"], env)
        wait_until(lambda: _answers(f"{self.config.gcc_url}/readyz"), timeout=60, what="GCC api")

    def add_operator(self, env: dict[str, str]) -> None:
        """Add the stack's named operator to GCC unless it is there (a restart keeps it)."""
        command = [sys.executable, "-m", "gcc.cli", "operator", "add"]
        try:
            self.run_command(
                [*command, "--email", STACK_OPERATOR_EMAIL, "--name", "Stack Operator"], env
            )
        except RuntimeError as exc:
            if "exists already" not in str(exc):
                raise

    def start_customer(self, customer: CustomerSpec) -> None:
        """Migrate a customer backend, create its admin, start api, worker, beat and agent."""
        env = self.backend_env(customer)
        backend = self.backend_command()
        self.run_command([*backend, "migrate"], env)
        credentials = self.credentials[customer.name]
        if not credentials.admin_token:
            credentials.admin_email = f"admin@{customer.name}.local"
            output = self.run_command(
                [
                    *backend,
                    "admin",
                    "add",
                    "--email",
                    credentials.admin_email,
                    "--name",
                    "Admin",
                    "--if-absent",
                ],
                env,
            )
            if "nothing changed" in output:
                raise StackError(
                    f"{customer.name}'s admin {credentials.admin_email} exists, but its token is "
                    "in no credentials this stack kept: start from empty databases with "
                    "`uv run nox -s stack -- --reset`"
                )
            credentials.admin_token = output.strip().splitlines()[-1]
            self.save_credentials()
        self.spawn(f"{customer.name}-api", [*backend, "serve", "--port", str(customer.port)], env)
        worker_env = dict(env)
        if customer.worker_metrics_port is not None:
            worker_env["WRKTALK_WORKER_METRICS_PORT"] = str(customer.worker_metrics_port)
        self.spawn(f"{customer.name}-worker", [*backend, "worker"], worker_env)
        self.spawn(f"{customer.name}-beat", [*backend, "beat"], env)
        self.wait_ready(customer)
        self.start_agent(customer)

    def restart_backend_api(self, customer: CustomerSpec) -> None:
        """Start a customer's API again (after a test stopped it) and wait until it is ready."""
        self.spawn(
            f"{customer.name}-api",
            [*self.backend_command(), "serve", "--port", str(customer.port)],
            self.backend_env(customer),
        )
        self.wait_ready(customer)

    def wait_ready(self, customer: CustomerSpec) -> None:
        """Wait until a customer's API answers its readiness probe."""
        wait_until(
            lambda: _answers(f"{self.config.customer_url(customer)}/readyz"),
            timeout=60,
            what=f"{customer.name} api",
        )

    def backend_command(self) -> list[str]:
        """The ``customer-backend`` command, run with this interpreter."""
        return [sys.executable, "-m", "customer_backend.cli"]

    def start_agent(self, customer: CustomerSpec) -> Process:
        """Start (or restart) a customer's agent."""
        repo = self.gitops_repo(customer)
        if not (repo / ".git").exists():
            repo.mkdir(parents=True, exist_ok=True)
            for command in (
                ["git", "init", "-q", "-b", "main"],
                ["git", "config", "user.email", f"agent@{customer.name}.local"],
                ["git", "config", "user.name", f"{customer.name} agent"],
                ["git", "commit", "-q", "--allow-empty", "-m", "Start of the GitOps history"],
            ):
                subprocess.run(command, cwd=repo, check=True)
        return self.spawn(
            f"{customer.name}-agent",
            [sys.executable, "-m", "wrktalk_agent.cli", "run"],
            self.agent_env(customer),
        )

    def start_support(self) -> None:
        """Start the S3 server and the SMTP server that writes to ``var/mail/``."""
        mail = self.config.var / "mail"
        for folder in ("cur", "new", "tmp"):
            (mail / folder).mkdir(parents=True, exist_ok=True)
        self.spawn(
            "s3",
            [
                sys.executable,
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                str(self.config.s3_port),
            ],
            {},
        )
        self.spawn(
            "smtp",
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{self.config.smtp_port}",
                "-c",
                "aiosmtpd.handlers.Mailbox",
                str(mail),
            ],
            {},
        )
        wait_until(lambda: _answers(self.config.s3_url), timeout=30, what="S3 server")

    # -- state --------------------------------------------------------------------------

    @property
    def credentials_path(self) -> Path:
        """Where an older stack kept the credentials, in the checkout (read once, then moved
        beside the databases)."""
        return self.config.var / "stack-credentials.json"

    def load_credentials(self) -> None:
        """Read the credentials saved by an earlier run of any checkout on this server."""
        self.credentials = self.credential_store.load()
        if not self.credentials:
            self.credentials = legacy_credentials(self.credentials_path)
            if self.credentials:
                self.save_credentials()

    def save_credentials(self) -> None:
        """Keep the credentials beside the databases, so a restarted stack, or another
        checkout's, reuses its organizations and admins."""
        self.credential_store.save(self.credentials)

    def create_databases(self) -> None:
        """Create the stack's databases when they do not exist."""
        names = ["gcc", *(customer.name for customer in self.config.customers)]

        async def create() -> None:
            connection = await asyncpg.connect(self.config.postgres_dsn)
            try:
                for name in names:
                    database = f"{self.config.prefix}_{name}"
                    exists = await connection.fetchval(
                        "SELECT 1 FROM pg_database WHERE datname = $1", database
                    )
                    if not exists:
                        await connection.execute(f'CREATE DATABASE "{database}"')
            finally:
                await connection.close()

        run_sync(create)

    def register_organizations(self) -> None:
        """Create each customer's organization at GCC unless it exists."""
        headers = {"Authorization": f"Bearer {self.config.operator_token}"}
        with httpx.Client(base_url=self.config.gcc_url, headers=headers, timeout=30) as client:
            for customer in self.config.customers:
                if customer.name in self.credentials:
                    continue
                response = client.post(
                    "/api/operator/organizations",
                    json={
                        "name": customer.name,
                        "deploymentType": customer.deployment_type,
                        "webhookEndpoint": (
                            f"{customer.webhook_url or self.config.customer_url(customer)}"
                            "/api/deployment/webhook"
                        ),
                        "currentVersion": "1.0.0",
                        "accountManagerEmail": f"am-{customer.name}@wrktalk.local",
                    },
                )
                if response.status_code == 409:
                    raise StackError(
                        f"organization {customer.name} exists at GCC ({self.config.gcc_url}), "
                        "but its API key is in no credentials this stack kept: start from empty "
                        "databases with `uv run nox -s stack -- --reset`"
                    )
                response.raise_for_status()
                body = response.json()
                self.credentials[customer.name] = CustomerCredentials(
                    api_key=body["apiKey"], webhook_secret=body["webhookSecret"]
                )
                self.save_credentials()

    def start(self) -> None:
        """Start everything, in dependency order."""
        self.config.var.mkdir(parents=True, exist_ok=True)
        self.load_credentials()
        self.manifest_public_key()  # GCC reads the key file as it starts
        self.create_databases()
        self.start_support()
        self.start_gcc()
        self.register_organizations()
        for customer in self.config.customers:
            self.start_customer(customer)
        self.start_prometheus()
        self.write_env_files()

    def env_file(self, name: str) -> Path:
        """The file of ``export`` lines for one tier's commands (``gcc``, or a customer)."""
        return self.config.var / "env" / f"{name}.env"

    def write_env_files(self) -> None:
        """Write each tier's environment as ``export`` lines (mode 0600: it holds the
        credentials), so ``gcc`` and ``customer-backend`` commands reach this stack."""
        environments = {
            "gcc": self.gcc_env(),
            **{customer.name: self.backend_env(customer) for customer in self.config.customers},
        }
        for name, env in environments.items():
            path = self.env_file(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.chmod(0o600)
            path.write_text(
                "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())
            )

    def start_prometheus(self) -> None:
        """Start Prometheus scraping every API, when it is installed and has a port."""
        executable = stack_prometheus.prometheus_executable()
        port = self.config.prometheus_port
        if executable is None or port is None:
            return
        directory = self.config.var / "prometheus"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "prometheus.yml").write_text(
            stack_prometheus.scrape_configuration(
                self.config.gcc_url.removeprefix("http://"),
                [
                    self.config.customer_url(customer).removeprefix("http://")
                    for customer in self.config.customers
                ],
                gcc_worker_target=(
                    None
                    if self.config.gcc_worker_metrics_port is None
                    else f"127.0.0.1:{self.config.gcc_worker_metrics_port}"
                ),
                backend_worker_targets=[
                    f"127.0.0.1:{customer.worker_metrics_port}"
                    for customer in self.config.customers
                    if customer.worker_metrics_port is not None
                ],
            )
        )
        self.spawn(
            "prometheus", stack_prometheus.prometheus_command(executable, directory, port), {}
        )
        wait_until(
            lambda: _answers(f"http://127.0.0.1:{port}/-/ready"), timeout=60, what="Prometheus"
        )

    @property
    def prometheus_line(self) -> str:
        """Where Prometheus is, or how to get it."""
        if self.config.prometheus_port is None:
            return "  Prometheus         not started"
        if stack_prometheus.prometheus_executable() is None:
            return f"  Prometheus         not installed ({stack_prometheus.INSTALL_HINT})"
        return f"  Prometheus         http://127.0.0.1:{self.config.prometheus_port}"

    def stop(self) -> None:
        """Stop every process, newest first."""
        for process in reversed(list(self.processes.values())):
            process.stop()
        self.processes.clear()

    def reset(self) -> None:
        """Drop the stack's databases and state so the next start is fresh."""
        self.stop()
        names = ["gcc", *(customer.name for customer in self.config.customers)]

        async def drop() -> None:
            connection = await asyncpg.connect(self.config.postgres_dsn)
            try:
                for name in names:
                    await connection.execute(
                        f'DROP DATABASE IF EXISTS "{self.config.prefix}_{name}" WITH (FORCE)'
                    )
            finally:
                await connection.close()

        run_sync(drop)
        self.credential_store.drop()
        if self.credentials_path.exists():
            self.credentials_path.unlink()
        self.credentials.clear()
        # a fresh installation's agents have run nothing yet
        shutil.rmtree(self.config.var / "agent-state", ignore_errors=True)

    def console_sign_in_link(self, customer: CustomerSpec) -> str:
        """A one-time link that signs the customer's admin in to the console (15 minutes;
        `customer-backend admin sign-in-link EMAIL` prints another)."""
        email = self.credentials[customer.name].admin_email
        try:
            output = self.run_command(
                [*self.backend_command(), "admin", "sign-in-link", email],
                self.backend_env(customer),
            )
        except RuntimeError:  # what run_command raises for a command that failed
            return f"(none: run customer-backend admin sign-in-link {email})"
        return output.strip().splitlines()[-1]

    def summary(self) -> str:
        """What a person needs: URLs, tokens, where the logs, email and Git history are."""
        lines = [
            "WrkTalk local stack is running",
            f"  GCC                {self.config.gcc_url}  (docs: {self.config.gcc_url}/docs)",
            f"  GCC CI token       {CI_TOKEN}",
            f"  GCC operator token {self.config.operator_token}",
            f"  GCC console        {self.config.gcc_url}/console  (sign in as "
            f"{STACK_OPERATOR_EMAIL}; the link arrives in the Maildir below)",
            f"  S3 endpoint        {self.config.s3_url}",
            f"  Email (Maildir)    {self.config.var / 'mail'}",
            f"  Logs               {self.logs}",
            self.prometheus_line,
        ]
        for customer in self.config.customers:
            credentials = self.credentials[customer.name]
            lines += [
                f"  {customer.name}: backend {self.config.customer_url(customer)}"
                f"  admin {credentials.admin_email}",
                f"    Control Tower token {credentials.admin_token}",
                f"    Console             {self.config.customer_url(customer)}/console",
                f"    Console sign-in     {self.console_sign_in_link(customer)}",
                f"    GitOps repository   {self.gitops_repo(customer)}",
            ]
        lines += [
            "Command line against this stack (every setting: . var/env/NAME.env):",
            f"  gcc:              export GCC_DATABASE_URL={self.config.database_url('gcc')}",
            *(
                f"  customer-backend: export WRKTALK_DATABASE_URL="
                f"{self.config.database_url(customer.name)}  # {customer.name}"
                for customer in self.config.customers
            ),
            f"  e.g. . {self.env_file('gcc')} && uv run gcc fleet",
        ]
        return "\n".join(lines)


@contextmanager
def running_stack(config: StackConfig | None = None) -> Iterator[Stack]:
    """A started stack, stopped afterwards whatever happens."""
    stack = Stack(config)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Run the stack until Ctrl-C (``--reset`` starts from empty databases; ``--demo`` sends
    a demo release through it once it is up)."""
    args = list(sys.argv[1:] if argv is None else argv)
    stack = Stack()
    if "--reset" in args:
        stack.reset()
    stopping: list[Any] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        stack.start()
        print(stack.summary(), flush=True)
        if "--demo" in args:
            from tools.demo import Demo

            Demo(stack).run()
        print("Ctrl-C stops everything.", flush=True)
        while not stopping:
            for process in stack.processes.values():
                if not process.alive():
                    print(f"{process.name} exited; see {process.log_path}", flush=True)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("stopping the stack", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
