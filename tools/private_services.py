"""A PostgreSQL cluster and a Redis server of one's own, in a temporary directory.

The chaos suite (``uv run nox -s chaos``) stops, kills and restarts the database and the broker
under running tiers; it must never do that to the machine's shared PostgreSQL (5432) and
Redis (6379), which other test sessions use at the same time. These classes start private
servers on free loopback ports instead: ``initdb`` into a temporary directory and ``pg_ctl``
for PostgreSQL (the binaries under ``/usr/lib/postgresql/<version>/bin`` unless ``initdb`` is on
the ``PATH``), ``redis-server`` without persistence for Redis. PostgreSQL refuses to run as
root, so when this process is root both servers run as an unprivileged user (``postgres`` when
it exists, else ``nobody``) through ``setpriv``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from wrktalk_testing.network import free_port

UNPRIVILEGED_USERS = ("postgres", "nobody")
START_TIMEOUT_SECONDS = 60.0


def postgres_bin_dir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (the newest version)."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name.split(".")[0]),
    )
    if not candidates:
        raise RuntimeError("no PostgreSQL server binaries (initdb) under /usr/lib/postgresql")
    return Path(candidates[-1]).parent


def run_as_prefix() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that drops root (empty when not root) and the user it runs as."""
    if os.geteuid() != 0:
        return [], None
    for name in UNPRIVILEGED_USERS:
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)
            prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}"]
            return [*prefix, "--clear-groups", "--"], user
    raise RuntimeError(f"running as root and none of the users {UNPRIVILEGED_USERS} exists")


def owned_temporary_directory(prefix: str) -> Path:
    """A new directory under the system's temporary directory, owned by the server's user."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    _, user = run_as_prefix()
    if user is not None:
        os.chown(directory, user.pw_uid, user.pw_gid)
    return directory


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, on a free port, with trust auth."""

    def __init__(self) -> None:
        """Choose the port and directory; nothing runs until :meth:`start`."""
        self.port = free_port()
        self.directory = owned_temporary_directory("wrktalk-chaos-pg-")
        self.data = self.directory / "data"
        self.log_path = self.directory / "postgres.log"
        self._bin = postgres_bin_dir()
        self._prefix, _ = run_as_prefix()

    @property
    def admin_dsn(self) -> str:
        """A libpq DSN of the ``postgres`` database as the ``postgres`` superuser."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._prefix, *args], capture_output=True, text=True, check=check, cwd=self.directory
        )

    def start(self) -> PrivatePostgres:
        """Create the cluster on first use, then start the server and wait until it answers."""
        if not self.data.exists():
            self._run(
                str(self._bin / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-sync",
            )
        # Durability is not under test: fsync off keeps a 2-CPU machine's disk out of timings.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.directory} -c max_connections=200 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self._bin / "pg_ctl"),
            "--pgdata",
            str(self.data),
            "--log",
            str(self.log_path),
            "--options",
            options,
            "--wait",
            f"--timeout={int(START_TIMEOUT_SECONDS)}",
            "start",
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients; ``immediate``: as if it crashed)."""
        self._run(
            str(self._bin / "pg_ctl"), "--pgdata", str(self.data), "--mode", mode, "--wait", "stop"
        )

    def restart(self, down_seconds: float = 0.0, mode: str = "fast") -> None:
        """Stop, stay down ``down_seconds``, and start again on the same port."""
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    def is_running(self) -> bool:
        """The server's postmaster runs."""
        pg_ctl = str(self._bin / "pg_ctl")
        status = self._run(pg_ctl, "--pgdata", str(self.data), "status", check=False)
        return status.returncode == 0

    def close(self) -> None:
        """Stop the server if it runs and delete the cluster."""
        if self.data.exists() and self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateRedis:
    """A Redis server without persistence on a free port: a restart loses every message."""

    def __init__(self) -> None:
        """Choose the port and directory; nothing runs until :meth:`start`."""
        self.port = free_port()
        self.directory = owned_temporary_directory("wrktalk-chaos-redis-")
        self.log_path = self.directory / "redis.log"
        self._prefix, _ = run_as_prefix()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL, without a database number."""
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> PrivateRedis:
        """Start the server and wait until it answers PING."""
        command = [
            *self._prefix,
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            "--logfile",
            str(self.log_path),
        ]
        # setpriv execs the server, so this process's pid is the server's own
        self._process = subprocess.Popen(command, cwd=self.directory, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._answers():
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server on port {self.port} did not answer")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        try:
            with contextlib.closing(_connect(self.port)) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the server: queued messages and connections are lost at once."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=30)
        self._process = None

    def restart(self, down_seconds: float = 0.0) -> None:
        """Kill the server, stay down ``down_seconds``, and start an empty one on the same port."""
        self.kill()
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=1)
