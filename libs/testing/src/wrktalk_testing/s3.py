"""moto's S3 server on a loopback port."""

from __future__ import annotations

import os

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
    """A real HTTP S3 endpoint served by moto in a background thread."""

    def __init__(self) -> None:
        """Pick a free port; nothing runs until :meth:`start`."""
        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start serving and point the AWS credential variables at test values."""
        for key, value in TEST_CREDENTIALS.items():
            os.environ.setdefault(key, value)
        self._server.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()


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
