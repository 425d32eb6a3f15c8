"""Checks on the HTTP connections a test's requests travel on."""

from __future__ import annotations

import httpx


def client_address(response: httpx.Response) -> tuple[str, int]:
    """The local end of the connection ``response`` came on."""
    address: tuple[str, int] = response.extensions["network_stream"].get_extra_info("client_addr")
    return address


async def assert_connection_still_serves(
    client: httpx.AsyncClient, refused: httpx.Response, path: str, headers: dict[str, str]
) -> None:
    """A refused request left its keep-alive connection serving: ``GET path`` is answered
    with 200 on the very connection of ``refused``."""
    assert refused.headers.get("connection") != "close"
    following = await client.get(path, headers=headers)
    assert following.status_code == 200, following.text
    assert client_address(following) == client_address(refused)
