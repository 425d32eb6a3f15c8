"""Every contract string field stored in a column is no longer than that column allows.

A contract that accepts a longer value than its column turns that value into a database error,
a 500 (and, for the batched heartbeats, a failure of other organizations' heartbeats), where
the caller should get a 422 naming the field. Both are declared from one constant; this test
keeps them so. Add a pair here when a contract field starts being stored.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

import customer_backend.models  # noqa: F401 - every table on the metadata
import gcc.models  # noqa: F401 - every table on the metadata
from contracts import (
    MAX_VERSION_LENGTH,
    ArtifactUploadResponse,
    DeploymentStatusReport,
    EscalationView,
    NonEssentialEnv,
    NonEssentialEnvCreate,
    OrganizationCreateRequest,
    OrganizationHeartbeat,
    OrganizationUpdateRequest,
    ReleaseCreateRequest,
    ReleasePublishedWebhook,
    TaskStatusUpdate,
    VersionHistoryEntry,
)
from customer_backend.table_base import metadata as backend_metadata
from gcc.table_base import metadata as gcc_metadata

GCC = gcc_metadata
BACKEND = backend_metadata

STORED_FIELDS: list[tuple[type[BaseModel], str, sa.MetaData, str]] = [
    # GCC: operators' organizations, customers' reports, CI's releases and artifacts
    (OrganizationCreateRequest, "name", GCC, "organization.name"),
    (OrganizationCreateRequest, "webhook_endpoint", GCC, "organization.webhook_endpoint"),
    (OrganizationUpdateRequest, "webhook_endpoint", GCC, "organization.webhook_endpoint"),
    (OrganizationCreateRequest, "current_version", GCC, "organization.current_version"),
    (OrganizationCreateRequest, "contacts.spoc_name", GCC, "organization.spoc_name"),
    (OrganizationCreateRequest, "contacts.spoc_email", GCC, "organization.spoc_email"),
    (OrganizationCreateRequest, "contacts.spoc_phone", GCC, "organization.spoc_phone"),
    (
        OrganizationCreateRequest,
        "account_manager_email",
        GCC,
        "organization.account_manager_email",
    ),
    (OrganizationHeartbeat, "version", GCC, "organization.current_version"),
    (DeploymentStatusReport, "current_version", GCC, "organization.current_version"),
    (DeploymentStatusReport, "current_version", GCC, "version_history.release_version"),
    (DeploymentStatusReport, "app_version", GCC, "organization.app_version"),
    (DeploymentStatusReport, "app_version", GCC, "version_history.app_version"),
    (ReleaseCreateRequest, "version", GCC, "release.version"),
    (ReleaseCreateRequest, "estimated_downtime", GCC, "release.estimated_downtime"),
    (ReleaseCreateRequest, "min_current_version", GCC, "release.min_current_version"),
    (ArtifactUploadResponse, "version", GCC, "artifact.version"),
    (EscalationView, "release_version", GCC, "escalation.release_version"),
    (VersionHistoryEntry, "release_version", GCC, "version_history.release_version"),
    # customer backend: GCC's webhook, the admins' variables, the agent's reports
    (ReleasePublishedWebhook, "release.version", BACKEND, "scheduled_deployment.version"),
    (ReleasePublishedWebhook, "release.version", BACKEND, "deployment_history.version"),
    (ReleasePublishedWebhook, "release.version", BACKEND, "local_artifact.version"),
    (ReleasePublishedWebhook, "release.version", BACKEND, "installation_state.current_version"),
    (
        ReleasePublishedWebhook,
        "release.new_non_essential_envs.key",
        BACKEND,
        "non_essential_env.key",
    ),
    (NonEssentialEnv, "key", BACKEND, "non_essential_env.key"),
    (NonEssentialEnvCreate, "key", BACKEND, "non_essential_env.key"),
    (TaskStatusUpdate, "result.release_version", BACKEND, "installation_state.current_version"),
]


def column_length(metadata: sa.MetaData, dotted: str) -> int | None:
    table, column = dotted.split(".")
    column_type = metadata.tables[table].c[column].type
    impl = getattr(column_type, "impl", column_type)  # sqlmodel's AutoString decorates String
    length = getattr(impl, "length", None)
    return length if isinstance(length, int) else None


def _resolve(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """The schema itself, through a ``$ref``, the non-null branch of an ``anyOf`` and the
    items of an array."""
    while True:
        if "$ref" in schema:
            schema = definitions[schema["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in schema:
            [schema] = [branch for branch in schema["anyOf"] if branch.get("type") != "null"]
        elif schema.get("type") == "array":
            schema = schema["items"]
        else:
            return schema


def contract_max_length(model: type[BaseModel], dotted: str) -> int | None:
    document = model.model_json_schema(by_alias=False)
    definitions = document.get("$defs", {})
    schema: dict[str, Any] = document
    for name in dotted.split("."):
        schema = _resolve(schema, definitions)["properties"][name]
    length = _resolve(schema, definitions).get("maxLength")
    return length if isinstance(length, int) else None


@pytest.mark.parametrize(
    ("model", "field", "metadata", "column"),
    STORED_FIELDS,
    ids=[f"{model.__name__}.{field}->{column}" for model, field, _, column in STORED_FIELDS],
)
def test_a_stored_contract_field_is_as_long_as_its_column(
    model: type[BaseModel], field: str, metadata: sa.MetaData, column: str
) -> None:
    maximum = contract_max_length(model, field)
    length = column_length(metadata, column)

    assert maximum is not None, f"{model.__name__}.{field} has no maximum length"
    assert length is not None, f"{column} is not a bounded string column"
    assert maximum == length


@pytest.mark.parametrize("metadata", [GCC, BACKEND], ids=["gcc", "customer_backend"])
def test_every_column_holding_a_version_is_as_long_as_a_version(metadata: sa.MetaData) -> None:
    wrong = [
        f"{table.name}.{column.name} ({column_length(metadata, f'{table.name}.{column.name}')})"
        for table in metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("version")
        and column_length(metadata, f"{table.name}.{column.name}") != MAX_VERSION_LENGTH
    ]

    assert wrong == []
