"""moto's S3 server on a loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import boto3
from moto.server import ThreadedMotoServer

from wrktalk_testing.network import free_port

TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class MotoS3Server:
    """A real HTTP S3 endpoint served by moto in a background thread.

    Every such server of a process serves the same buckets (moto keeps them in the process),
    so a second one is a second way to the same data that a test may stop, to see what a
    bucket out of reach does, and start again on the same port.
    """

    def __init__(self) -> None:
        """Pick a free port; nothing runs until :meth:`start`."""
        self.port = free_port()
        self._server = self._new_server()
        self._running = False

    def _new_server(self) -> ThreadedMotoServer:
        return ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start serving and point the AWS credential variables at test values."""
        for key, value in TEST_CREDENTIALS.items():
            os.environ.setdefault(key, value)
        self._server.start()
        self._running = True

    def stop(self) -> None:
        """Stop serving (when serving); :meth:`start` serves again on the same port."""
        if not self._running:
            return
        self._server.stop()
        self._running = False
        self._server = self._new_server()


class CredentialCheckingS3Server:
    """moto's S3 server in a process of its own that checks credentials as AWS does.

    No access key is known to it, so every request is refused ``403 InvalidAccessKeyId``:
    what a service meets when its bucket credentials are wrong or were revoked.
    """

    def __init__(self) -> None:
        """Pick a free port; nothing runs until :meth:`start`."""
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it accepts connections."""
        environment = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server's process."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
            self._process = None


def create_bucket(endpoint_url: str, name: str) -> None:
    """Create a bucket on the endpoint."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=name)
