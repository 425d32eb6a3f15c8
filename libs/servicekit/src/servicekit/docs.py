"""The API's documentation page, served with no request leaving the service.

FastAPI's ``/docs`` loads Swagger UI's script and style from a public CDN, so it stays blank on
an offline machine or in an air-gapped installation. The services serve the same page with the
files of a pinned ``swagger-ui-dist`` (vendored by ``tools/vendor_frontend.py``) from
``/docs/static/``; ReDoc, which would load from a CDN too, is not served.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_FILES = Path(__file__).parent / "static" / "swagger"
"""Swagger UI's script, style and icon, as the pinned package ships them."""

DOCS_PATH = "/docs"
STATIC_PATH = f"{DOCS_PATH}/static"


def add_offline_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` from this service's own files (the app is built with
    ``docs_url=None`` and ``redoc_url=None``)."""
    app.mount(STATIC_PATH, StaticFiles(directory=SWAGGER_FILES), name="swagger-ui")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        # behind a proxy that strips a path prefix, the page asks for its files under it
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_PATH}/favicon-32x32.png",
        )
