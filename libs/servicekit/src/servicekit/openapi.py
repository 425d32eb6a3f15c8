"""A service's OpenAPI document, made to tell what the service answers.

FastAPI infers a route's success answer and a 422 whose body it describes as its own
``HTTPValidationError`` (an array of errors). The services answer every error with
``{"error", "detail", "field"}`` (``contracts.ErrorResponse``) from the handlers in
:mod:`servicekit.errors`, and those handlers also answer statuses no route declares: 400 for
a body that cannot be read, 401 before anything else on every route that takes credentials,
503 while the database is unreachable, 500 for a failure nobody expected. This module adds
them to every operation, in one place, so that a client generated from the document knows
every answer it can get. A route declares only the errors of its own service
(:func:`error_responses`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI
from pydantic import BaseModel

from contracts import ErrorResponse

ERROR_SCHEMA: Final = ErrorResponse.__name__
REF_TEMPLATE: Final = "#/components/schemas/{model}"
PUBLIC_PATHS: Final = frozenset({"/healthz", "/readyz"})
"""The probes: the only routes that take no credentials and never touch a session."""

BEARER_SCHEME: Final = "bearer"
FRAMEWORK_ERROR_SCHEMAS: Final = ("HTTPValidationError", "ValidationError")

STATUS_DESCRIPTIONS: Final[Mapping[int, str]] = {
    400: "The body could not be read: malformed JSON or multipart (`malformed_json`).",
    401: "Credentials are missing or not valid for this route (`unauthorized`).",
    403: "The credentials are valid but do not open this resource (`forbidden`).",
    404: "No such resource (`not_found`).",
    409: "The resource's current state forbids this (`conflict`).",
    410: "The resource existed and has been removed (`gone`).",
    413: "The body is larger than allowed (`payload_too_large`).",
    422: "A parameter or a field of the body is invalid; `field` names it.",
    500: "An unexpected failure; `detail` says nothing about internals (`internal_error`).",
    502: "A service this request relies on answered badly.",
    503: "The database or the bucket is not reachable, or the database cannot take the "
    "request at the moment (`service_unavailable`, `storage_unavailable`); try again after "
    "`Retry-After` seconds.",
}
_METHODS: Final = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


@dataclass(frozen=True)
class Credentials:
    """Credentials other than a bearer token, and the routes that take them."""

    scheme: Mapping[str, Any]
    """The OpenAPI security scheme (``{"type": "apiKey", "in": "header", ...}``)."""
    path_prefixes: tuple[str, ...]
    """The paths of the routes that take these credentials, by their start."""


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=`` for the errors its own service raises (404, 409, …).

    The errors every route shares (400, 401, 422, 500, 503) are added to the whole document by
    :func:`install_openapi`; a route need not name them.
    """
    return {
        code: {"model": ErrorResponse, "description": STATUS_DESCRIPTIONS[code]}
        for code in status_codes
    }


def links_to(operations: Iterable[tuple[str, str]], **parameters: str) -> dict[str, dict[str, Any]]:
    """OpenAPI links from a response to each ``(method, path)`` of ``operations``, their
    parameters taken from the response (``name="$response.body#/organization/name"``): a
    client, or a stateful fuzzer, learns which call can follow which."""
    links = {}
    for method, path in operations:
        name = re.sub(r"[^A-Za-z0-9]+", "_", f"{method} {path}").strip("_")
        pointer = path.replace("~", "~0").replace("/", "~1")
        links[name] = {
            "operationRef": f"#/paths/{pointer}/{method.lower()}",
            "parameters": parameters,
        }
    return links


def json_request_body(model: type[BaseModel], *, description: str) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body itself (to verify a signature
    over its bytes, say): the body is declared with ``model``'s schema all the same."""
    schema = model.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE)
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def install_openapi(app: FastAPI, *, credentials: Mapping[str, Credentials] | None = None) -> None:
    """Make ``app``'s document declare its error model and every status each route answers.

    Every operation but the probes is declared to need an HTTP bearer token, or the
    ``credentials`` (by scheme name) whose path prefixes its path starts with.
    """
    build_document = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build_document()
            declare_errors(document, credentials=credentials or {})
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def declare_errors(document: dict[str, Any], *, credentials: Mapping[str, Credentials]) -> None:
    """Declare the error model, the shared statuses and the credentials in ``document``."""
    components = document.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(
        by_alias=True, mode="serialization", ref_template=REF_TEMPLATE
    )
    schemas[ERROR_SCHEMA] = error_schema
    components["securitySchemes"] = {
        BEARER_SCHEME: {"type": "http", "scheme": "bearer"},
        **{name: dict(taken.scheme) for name, taken in credentials.items()},
    }
    for path, operation in _operations(document):
        _lift_body_definitions(operation, schemas)
        is_public = path in PUBLIC_PATHS
        _declare_operation_errors(operation, is_public=is_public)
        if not is_public:
            operation["security"] = [{_scheme_of(path, credentials): []}]
    for name in FRAMEWORK_ERROR_SCHEMAS:
        schemas.pop(name, None)


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                yield path, operation


def _shared_statuses(operation: Mapping[str, Any], *, is_public: bool) -> list[int]:
    has_body = "requestBody" in operation
    statuses = [400] if has_body else []
    if has_body or operation.get("parameters"):
        statuses.append(422)
    if not is_public:
        statuses += [401, 500, 503]
    return statuses


def _declare_operation_errors(operation: dict[str, Any], *, is_public: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for shared in _shared_statuses(operation, is_public=is_public):
        responses.setdefault(str(shared), {"description": STATUS_DESCRIPTIONS[shared]})
    error_schema = {"$ref": REF_TEMPLATE.format(model=ERROR_SCHEMA)}
    for status, response in responses.items():
        # a probe's 503 is its own report of the checks, not an error body
        if status[0] in "45" and not (is_public and "content" in response):
            response["content"] = {"application/json": {"schema": error_schema}}
    if "422" in responses:  # FastAPI's own text describes its own body
        responses["422"]["description"] = STATUS_DESCRIPTIONS[422]


def _scheme_of(path: str, credentials: Mapping[str, Credentials]) -> str:
    for name, taken in credentials.items():
        if path.startswith(taken.path_prefixes):
            return name
    return BEARER_SCHEME


def _lift_body_definitions(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Move the ``$defs`` of a body declared by :func:`json_request_body` to the components,
    where its references point."""
    content = operation.get("requestBody", {}).get("content", {})
    for media in content.values():
        schema = media.get("schema", {})
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        title = schema.get("title")
        if "properties" in schema and isinstance(title, str):
            schemas.setdefault(title, schema)
            media["schema"] = {"$ref": REF_TEMPLATE.format(model=title)}
