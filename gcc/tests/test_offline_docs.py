"""`/docs` works on a machine with no way out: every file the page loads is the service's own."""

from __future__ import annotations

import re

import httpx

from servicekit.docs import SWAGGER_FILES


async def test_the_docs_page_loads_only_files_the_service_serves(
    gcc_client: httpx.AsyncClient,
) -> None:
    page = await gcc_client.get("/docs")

    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    loaded += re.findall(r"url: '([^']+)'", page.text)
    assert sorted(loaded) == [
        "/docs/static/favicon-32x32.png",
        "/docs/static/swagger-ui-bundle.js",
        "/docs/static/swagger-ui.css",
        "/openapi.json",
    ]
    assert "://" not in " ".join(loaded)
    for path in loaded:
        answer = await gcc_client.get(path)
        assert answer.status_code == 200, path
    script = await gcc_client.get("/docs/static/swagger-ui-bundle.js")
    assert script.content == (SWAGGER_FILES / "swagger-ui-bundle.js").read_bytes()
    assert "javascript" in script.headers["content-type"]


async def test_redoc_which_would_load_from_a_cdn_is_not_served(
    gcc_client: httpx.AsyncClient,
) -> None:
    assert (await gcc_client.get("/redoc")).status_code == 404
