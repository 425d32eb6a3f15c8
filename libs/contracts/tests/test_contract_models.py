"""Contract models: camelCase wire format, tolerance of new fields, and the rules they enforce."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from contracts import (
    AGENT_TASK_ADAPTER,
    AgentPollResponse,
    AgentTaskStatus,
    ArtifactType,
    ArtifactUploadResponse,
    DeploymentStatusReport,
    DeploymentType,
    DeployTask,
    ErrorCode,
    ErrorResponse,
    LogBatch,
    MaintenanceTask,
    NonEssentialEnvCreate,
    NonEssentialEnvUpdate,
    OrganizationCreateRequest,
    OrganizationHeartbeat,
    ReleaseCreateRequest,
    ReleasePublishedWebhook,
    RollbackPayload,
    RollbackRequest,
    RollbackTask,
    RolloutPlan,
    TaskHeartbeatAck,
    TaskStatusUpdate,
    UpdatesPollResponse,
    compose_image_tag_variable,
    field_from_location,
    parse_version,
    replace_nul,
)
from contracts.base import NUL_MESSAGE, ContractModel, _refuse_nul
from contracts.schema import public_schema_sources

SHA_A = "a" * 64
SHA_B = "0123456789abcdef" * 4
RELEASE_ID = "8d0f6c5e-7a39-4f55-9f0e-2d1c4b7a9e10"
TASK_ID = "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"
DEPLOYMENT_ID = "9e8d7c6b-5a49-4382-a716-f5e4d3c2b1a0"
IMAGE_TAGS = {
    "backend": "sha-abc123",
    "media": "sha-def456",
    "controlTower": "sha-ghi789",
    "agent": "sha-jkl012",
}


def _webhook_body() -> dict[str, Any]:
    return {
        "eventType": "release.published",
        "release": {
            "id": RELEASE_ID,
            "version": "2.3.0",
            "chartVersion": "2.3.0",
            "chartSha256": SHA_A,
            "composeSha256": SHA_B,
            "imageTags": IMAGE_TAGS,
            "newNonEssentialEnvs": [{"key": "NEW_FEATURE", "value": "false"}],
        },
        "ruleset": {
            "isForced": False,
            "isMigrationRequired": False,
            "estimatedDowntime": None,
            "releaseNotes": "Bug fixes and improvements",
            "minCurrentVersion": "2.0.0",
        },
    }


def _file(path: str, sha256: str = SHA_A) -> dict[str, Any]:
    return {
        "bucketPath": path,
        "downloadUrl": f"https://bucket.example/{path}?X-Amz-Signature=abc%2Fdef",
        "sha256": sha256,
        "sizeBytes": 1024,
    }


def _chart(version: str, artifact_type: str = "helm") -> dict[str, Any]:
    suffix = "tgz" if artifact_type == "helm" else "compose.tar.gz"
    return {
        **_file(f"artifacts/{artifact_type}/wrktalk-{version}.{suffix}"),
        "type": artifact_type,
        "version": version,
    }


def _deploy_task_body() -> dict[str, Any]:
    return {
        "id": TASK_ID,
        "type": "deploy",
        "executeAfter": "2024-12-15T02:00:00Z",
        "deploymentId": DEPLOYMENT_ID,
        "maintenanceHeld": False,
        "payload": {
            "version": "2.3.0",
            "chart": _chart("2.3.0", "compose"),
            "imageTags": IMAGE_TAGS,
            "env": _file("config/.env", SHA_B),
            "newNonEssentialEnvs": [{"key": "NEW_FEATURE", "value": "false"}],
            "previous": {
                "version": "2.2.0",
                "chart": _chart("2.2.0", "compose"),
                "imageTags": {"backend": "sha-old"},
                "env": _file("config/.env.v2.2.0"),
            },
        },
    }


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


# camelCase on the wire, snake_case in Python


def test_webhook_body_round_trips_in_camel_case() -> None:
    body = _webhook_body()
    webhook = ReleasePublishedWebhook.model_validate_json(json.dumps(body))
    assert webhook.release.chart_sha256 == SHA_A
    assert webhook.ruleset.min_current_version == parse_version("2.0.0")
    # an unsigned body: the manifest comes back as null
    assert json.loads(webhook.model_dump_json()) == {**body, "manifest": None}
    assert webhook.model_dump(mode="json") == {**body, "manifest": None}


def test_deploy_task_round_trips_in_camel_case() -> None:
    body = _deploy_task_body()
    task = AGENT_TASK_ADAPTER.validate_json(json.dumps(body))
    assert isinstance(task, DeployTask)
    dumped = _without_nulls(json.loads(task.model_dump_json()))
    assert dumped == body


def test_models_are_built_from_snake_case_names_and_dump_camel_case() -> None:
    response = ArtifactUploadResponse(
        id=UUID(RELEASE_ID),
        type=ArtifactType.HELM,
        version=parse_version("2.3.0"),
        bucket_path="charts/helm/wrktalk-2.3.0.tgz",
        sha256=SHA_A,
        size_bytes=102400,
    )
    assert response.model_dump(mode="json") == {
        "id": RELEASE_ID,
        "type": "helm",
        "version": "2.3.0",
        "bucketPath": "charts/helm/wrktalk-2.3.0.tgz",
        "sha256": SHA_A,
        "sizeBytes": 102400,
    }


def test_snake_case_input_is_accepted_too() -> None:
    report = DeploymentStatusReport.model_validate(
        {
            "organization_name": "customer-x",
            "release_id": RELEASE_ID,
            "status": "success",
            "helm_revision": 5,
        }
    )
    assert report.helm_revision == 5


def test_datetimes_are_written_in_iso_8601_with_zone() -> None:
    heartbeat = OrganizationHeartbeat.model_validate(
        {"status": "healthy", "timestamp": "2024-12-15T10:05:00Z", "version": "2.3.0"}
    )
    assert heartbeat.timestamp == datetime(2024, 12, 15, 10, 5, tzinfo=UTC)
    assert heartbeat.model_dump(mode="json")["timestamp"] == "2024-12-15T10:05:00Z"


def test_spec_release_create_example_is_accepted() -> None:
    request = ReleaseCreateRequest.model_validate_json(
        """{
          "version": "2.3.0",
          "imageTags": {"backend": "sha-abc123", "media": "sha-def456",
                        "controlTower": "sha-ghi789", "agent": "sha-jkl012"},
          "isForced": false, "isMigrationRequired": false, "estimatedDowntime": null,
          "releaseNotes": "Bug fixes",
          "newNonEssentialEnvs": [{"key": "NEW_FEATURE", "value": "false"}]
        }"""
    )
    assert request.targets is None
    assert request.image_tags["controlTower"] == "sha-ghi789"


# tolerance and errors


def test_unknown_fields_are_ignored_at_every_depth() -> None:
    body = _webhook_body()
    body["deliveredBy"] = "gcc-2"
    body["release"]["signedBy"] = "ci"
    body["ruleset"]["maintenanceWindow"] = "02:00-04:00"
    webhook = ReleasePublishedWebhook.model_validate(body)
    assert "deliveredBy" not in webhook.model_dump_json()
    assert webhook.model_dump(mode="json") == {**_webhook_body(), "manifest": None}


def test_missing_nested_field_is_named_in_camel_case() -> None:
    body = _webhook_body()
    del body["release"]["chartSha256"]
    with pytest.raises(ValidationError) as caught:
        ReleasePublishedWebhook.model_validate(body)
    [error] = caught.value.errors()
    assert error["loc"] == ("release", "chartSha256")
    assert error["type"] == "missing"
    assert "release.chartSha256" in str(caught.value)


def test_ill_typed_field_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        ArtifactUploadResponse.model_validate(
            {
                "id": RELEASE_ID,
                "type": "helm",
                "version": "2.3.0",
                "bucketPath": "charts/helm/wrktalk-2.3.0.tgz",
                "sha256": SHA_A,
                "sizeBytes": "large",
            }
        )
    [error] = caught.value.errors()
    assert error["loc"] == ("sizeBytes",)


def test_unknown_enum_value_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        OrganizationHeartbeat.model_validate(
            {"status": "sleepy", "timestamp": "2024-12-15T10:05:00Z"}
        )
    assert caught.value.errors()[0]["loc"] == ("status",)


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        OrganizationHeartbeat.model_validate({"status": "healthy", "timestamp": "2024-12-15T10:05"})
    assert caught.value.errors()[0]["loc"] == ("timestamp",)
    assert caught.value.errors()[0]["type"] == "timezone_aware"


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_an_instant_utc_cannot_represent_is_rejected(instant: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OrganizationHeartbeat.model_validate({"status": "healthy", "timestamp": instant})
    assert caught.value.errors()[0]["loc"] == ("timestamp",)


def test_the_first_and_last_instants_utc_holds_are_accepted() -> None:
    for instant in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59+00:00"):
        OrganizationHeartbeat.model_validate({"status": "healthy", "timestamp": instant})


@pytest.mark.parametrize("digest", ["A" * 64, "a" * 63, "a" * 65, "g" * 64, "abc123..."])
def test_sha256_must_be_64_lowercase_hex_characters(digest: str) -> None:
    body = _webhook_body()
    body["release"]["chartSha256"] = digest
    with pytest.raises(ValidationError) as caught:
        ReleasePublishedWebhook.model_validate(body)
    [error] = caught.value.errors()
    assert error["loc"] == ("release", "chartSha256")
    assert "SHA256" in error["msg"]


def test_invalid_version_in_a_body_is_named() -> None:
    body = _webhook_body()
    body["release"]["version"] = "2.3"
    with pytest.raises(ValidationError) as caught:
        ReleasePublishedWebhook.model_validate(body)
    [error] = caught.value.errors()
    assert error["loc"] == ("release", "version")
    assert "MAJOR.MINOR.PATCH" in error["msg"]


# the agent task union


def test_task_union_picks_the_model_by_type() -> None:
    deploy = AGENT_TASK_ADAPTER.validate_python(_deploy_task_body())
    rollback = AGENT_TASK_ADAPTER.validate_python(
        {
            "id": TASK_ID,
            "type": "rollback",
            "payload": {"targetRevision": 4},
            "executeAfter": "2024-12-15T02:00:00Z",
        }
    )
    assert isinstance(deploy, DeployTask)
    assert deploy.payload.previous is not None
    assert deploy.payload.previous.version == "2.2.0"
    assert isinstance(rollback, RollbackTask)
    assert rollback.payload.target_revision == 4


def test_task_union_rejects_an_unknown_type() -> None:
    body = _deploy_task_body()
    body["type"] = "restart"
    with pytest.raises(ValidationError) as caught:
        AGENT_TASK_ADAPTER.validate_python(body)
    [error] = caught.value.errors()
    assert error["type"] == "union_tag_invalid"
    assert "'deploy', 'rollback', 'maintenance'" in error["msg"]


def test_task_payload_is_validated_against_its_type() -> None:
    body = _deploy_task_body()
    body["type"] = "rollback"
    with pytest.raises(ValidationError) as caught:
        AGENT_TASK_ADAPTER.validate_python(body)
    assert caught.value.errors()[0]["loc"][:2] == ("rollback", "payload")


def test_rollback_payload_to_the_previous_revision_names_no_target() -> None:
    payload = RollbackPayload.model_validate({"toPrevious": True})
    assert (payload.target_revision, payload.target_version, payload.release) == (None, None, None)
    with pytest.raises(ValidationError, match="targetRevision, targetVersion or toPrevious"):
        RollbackPayload.model_validate({})


def test_maintenance_task_carries_the_state_to_switch_to() -> None:
    body = {
        "id": TASK_ID,
        "type": "maintenance",
        "payload": {"enabled": True},
        "executeAfter": "2024-12-15T02:00:00Z",
    }
    task = AGENT_TASK_ADAPTER.validate_python(body)
    assert isinstance(task, MaintenanceTask)
    assert task.payload.enabled is True


def test_poll_response_carries_a_task_or_null() -> None:
    assert AgentPollResponse.model_validate_json('{"task": null}').task is None
    assert AgentPollResponse.model_validate_json("{}").task is None
    assert AgentPollResponse().model_dump_json() == '{"task":null}'
    poll = AgentPollResponse.model_validate({"task": _deploy_task_body()})
    assert isinstance(poll.task, DeployTask)
    assert poll.task.payload.chart.type is ArtifactType.COMPOSE


def test_presigned_url_is_kept_exactly_as_issued() -> None:
    task = AGENT_TASK_ADAPTER.validate_python(_deploy_task_body())
    assert isinstance(task, DeployTask)
    assert task.payload.chart.download_url.endswith("?X-Amz-Signature=abc%2Fdef")


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../config/.env", "config/../../x", "config//x", "a/./b", ""]
)
def test_bucket_keys_refuse_absolute_and_traversing_paths(path: str) -> None:
    body = _deploy_task_body()
    body["payload"]["env"]["bucketPath"] = path
    with pytest.raises(ValidationError) as caught:
        AGENT_TASK_ADAPTER.validate_python(body)
    assert caught.value.errors()[0]["loc"][-1] == "bucketPath"


@pytest.mark.parametrize("service", ["control.tower", "Backend", "a=b", "x,y", "media[0]"])
def test_image_tag_services_must_be_safe_helm_set_keys(service: str) -> None:
    body = _deploy_task_body()
    body["payload"]["imageTags"] = {service: "1.0"}
    with pytest.raises(ValidationError):
        AGENT_TASK_ADAPTER.validate_python(body)


def test_rollback_payload_by_version_carries_the_matching_bundle() -> None:
    bundle = {"version": "2.2.0", "chart": _chart("2.2.0"), "values": _file("config/values.yaml")}
    payload = RollbackPayload.model_validate({"targetVersion": "2.2.0", "release": bundle})
    assert payload.release is not None
    assert payload.release.values is not None
    with pytest.raises(ValidationError, match="release is required"):
        RollbackPayload.model_validate({"targetVersion": "2.2.0"})
    with pytest.raises(ValidationError, match="differs from targetVersion"):
        RollbackPayload.model_validate({"targetVersion": "2.1.0", "release": bundle})
    with pytest.raises(ValidationError, match="only allowed with targetVersion"):
        RollbackPayload.model_validate({"targetRevision": 3, "release": bundle})


# Control Tower rollback request


@pytest.mark.parametrize(
    "body", [{"targetRevision": 5}, {"targetVersion": "2.2.0"}, {"targetRevision": 5, "x": 1}]
)
def test_rollback_request_accepts_exactly_one_target(body: dict[str, Any]) -> None:
    RollbackRequest.model_validate(body)


@pytest.mark.parametrize("body", [{}, {"targetRevision": None, "targetVersion": None}])
def test_rollback_request_without_a_target_means_the_previous_one(body: dict[str, Any]) -> None:
    request = RollbackRequest.model_validate(body)
    assert (request.target_revision, request.target_version) == (None, None)


def test_rollback_request_refuses_two_targets() -> None:
    with pytest.raises(ValidationError, match="at most one of targetRevision and targetVersion"):
        RollbackRequest.model_validate({"targetRevision": 5, "targetVersion": "2.2.0"})


def test_rollback_request_refuses_revision_zero() -> None:
    with pytest.raises(ValidationError) as caught:
        RollbackRequest.model_validate({"targetRevision": 0})
    assert caught.value.errors()[0]["loc"] == ("targetRevision",)


# rules of the other messages


def test_release_request_requires_the_well_known_image_tags() -> None:
    with pytest.raises(ValidationError, match="required for controlTower, agent") as caught:
        ReleaseCreateRequest.model_validate(
            {"version": "2.3.0", "imageTags": {"backend": "a", "media": "b"}}
        )
    assert caught.value.errors()[0]["loc"] == ("imageTags",)


def test_release_request_accepts_extra_services() -> None:
    request = ReleaseCreateRequest.model_validate(
        {"version": "2.3.0", "imageTags": {**IMAGE_TAGS, "search": "sha-9"}}
    )
    assert request.image_tags["search"] == "sha-9"


def test_release_request_refuses_repeated_env_keys() -> None:
    envs = [{"key": "A", "value": "1"}, {"key": "A", "value": "2"}]
    with pytest.raises(ValidationError, match="'A' appears more than once"):
        ReleaseCreateRequest.model_validate(
            {"version": "2.3.0", "imageTags": IMAGE_TAGS, "newNonEssentialEnvs": envs}
        )


def test_release_request_minimum_version_must_be_older() -> None:
    with pytest.raises(ValidationError) as caught:
        ReleaseCreateRequest.model_validate(
            {"version": "2.3.0", "imageTags": IMAGE_TAGS, "minCurrentVersion": "2.10.0"}
        )
    assert caught.value.errors()[0]["loc"] == ("minCurrentVersion",)


def test_release_request_targets_are_organization_names() -> None:
    request = ReleaseCreateRequest.model_validate(
        {"version": "2.3.0", "imageTags": IMAGE_TAGS, "targets": ["customer-x", "acme"]}
    )
    assert request.targets == ["customer-x", "acme"]
    for targets in ([], ["Customer X"], ["acme", "acme"]):
        with pytest.raises(ValidationError):
            ReleaseCreateRequest.model_validate(
                {"version": "2.3.0", "imageTags": IMAGE_TAGS, "targets": targets}
            )


def test_failed_status_update_needs_an_error_message() -> None:
    with pytest.raises(ValidationError, match="errorMessage is required"):
        TaskStatusUpdate.model_validate({"status": "failed"})
    update = TaskStatusUpdate.model_validate(
        {"status": "failed", "errorMessage": "helm: timed out", "retryable": True}
    )
    assert update.retryable
    assert update.model_dump(mode="json")["retryable"] is True


@pytest.mark.parametrize("status", ["pending", "cancelled"])
def test_agent_cannot_report_backend_only_statuses(status: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TaskStatusUpdate.model_validate({"status": status})
    assert caught.value.errors()[0]["loc"] == ("status",)


def test_completed_status_update_carries_the_result() -> None:
    update = TaskStatusUpdate.model_validate(
        {
            "status": "completed",
            "completedAt": "2024-12-15T02:10:00Z",
            "result": {"helmRevision": 5, "status": "success", "releaseVersion": "2.3.0"},
        }
    )
    assert update.status is AgentTaskStatus.COMPLETED
    assert update.result is not None
    assert update.result.helm_revision == 5


@pytest.mark.parametrize("status", ["notified", "webhookFailed", "pending", "scheduled"])
def test_customer_cannot_report_gcc_only_statuses(status: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentStatusReport.model_validate(
            {"organizationName": "customer-x", "releaseId": RELEASE_ID, "status": status}
        )
    assert caught.value.errors()[0]["loc"] == ("status",)


def test_heartbeat_ack_defaults_to_received() -> None:
    assert TaskHeartbeatAck().model_dump(mode="json") == {"received": True, "taskStatus": None}


def test_log_batch_needs_lines_with_a_known_stream() -> None:
    batch = LogBatch.model_validate(
        {"lines": [{"timestamp": "2024-12-15T02:00:01Z", "stream": "stderr", "line": "pulling"}]}
    )
    assert batch.lines[0].stream == "stderr"
    with pytest.raises(ValidationError):
        LogBatch.model_validate({"lines": []})
    with pytest.raises(ValidationError):
        LogBatch.model_validate(
            {"lines": [{"timestamp": "2024-12-15T02:00:01Z", "stream": "tty", "line": "x"}]}
        )


def test_env_update_needs_a_change_and_refuses_a_null_value() -> None:
    assert NonEssentialEnvUpdate.model_validate({"description": None}).model_fields_set == {
        "description"
    }
    with pytest.raises(ValidationError, match="at least one"):
        NonEssentialEnvUpdate.model_validate({})
    with pytest.raises(ValidationError, match="value cannot be null"):
        NonEssentialEnvUpdate.model_validate({"value": None})


def test_updates_poll_holds_webhook_bodies() -> None:
    poll = UpdatesPollResponse.model_validate({"releases": [_webhook_body(), _webhook_body()]})
    assert len(poll.releases) == 2
    assert UpdatesPollResponse().model_dump(mode="json") == {"releases": [], "withdrawn": []}


def test_a_rollout_plan_needs_someone_in_each_wave_and_growing_percentages() -> None:
    plan = RolloutPlan.model_validate(
        {"waves": [{"rings": ["canary"]}, {"percent": 25}, {"percent": 100, "bakeMinutes": 0}]}
    )
    assert [wave.percent for wave in plan.waves] == [None, 25, 100]
    assert plan.waves[0].advance_when == "bake"
    with pytest.raises(ValidationError, match="names rings, a percentage"):
        RolloutPlan.model_validate({"waves": [{}]})
    with pytest.raises(ValidationError, match="must grow"):
        RolloutPlan.model_validate({"waves": [{"percent": 50}, {"percent": 25}]})
    with pytest.raises(ValidationError):
        RolloutPlan.model_validate({"waves": [{"rings": ["Canary"]}]})


# helpers


def test_artifact_type_of_each_deployment_type() -> None:
    assert DeploymentType.KUBERNETES.artifact_type is ArtifactType.HELM
    assert DeploymentType.GITOPS.artifact_type is ArtifactType.HELM
    assert DeploymentType.DOCKER.artifact_type is ArtifactType.COMPOSE


def test_published_release_gives_the_digest_per_artifact_type() -> None:
    release = ReleasePublishedWebhook.model_validate(_webhook_body()).release
    assert release.sha256_for(ArtifactType.HELM) == SHA_A
    assert release.sha256_for(ArtifactType.COMPOSE) == SHA_B


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("backend", "BACKEND_IMAGE_TAG"),
        ("controlTower", "CONTROL_TOWER_IMAGE_TAG"),
        ("media2Worker", "MEDIA2_WORKER_IMAGE_TAG"),
    ],
)
def test_compose_image_tag_variable(service: str, variable: str) -> None:
    assert compose_image_tag_variable(service) == variable


def test_error_response_from_fastapi_style_errors_names_the_field() -> None:
    errors: list[dict[str, Any]] = [
        {"loc": ("body", "newNonEssentialEnvs", 0, "key"), "msg": "Field required"},
        {"loc": ("body", "version"), "msg": "bad"},
    ]
    error = ErrorResponse.from_validation_errors(errors)
    assert error.error == ErrorCode.INVALID_INPUT
    assert error.field == "newNonEssentialEnvs.0.key"
    assert error.detail == "newNonEssentialEnvs.0.key: Field required (and 1 more error)"
    assert error.model_dump(mode="json") == {
        "error": "invalid_input",
        "detail": "newNonEssentialEnvs.0.key: Field required (and 1 more error)",
        "field": "newNonEssentialEnvs.0.key",
    }


def test_error_response_from_a_model_level_error_has_no_field() -> None:
    with pytest.raises(ValidationError) as caught:
        RollbackRequest.model_validate({"targetRevision": 5, "targetVersion": "2.2.0"})
    error = ErrorResponse.from_validation_errors(caught.value.errors())
    assert error.field is None
    assert error.detail == "give at most one of targetRevision and targetVersion"


def test_field_from_location_keeps_inner_names() -> None:
    assert field_from_location(("query", "type")) == "type"
    assert field_from_location(("release", "version")) == "release.version"
    assert field_from_location(("body",)) is None


# no NUL character in any string


def _organization_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "customer-x",
        "deploymentType": "kubernetes",
        "webhookEndpoint": "https://customer-x.example/hook",
        **overrides,
    }


def _release_body(**overrides: Any) -> dict[str, Any]:
    return {"version": "2.3.0", "imageTags": IMAGE_TAGS, **overrides}


@pytest.mark.parametrize(
    ("model", "body", "location"),
    [
        (
            OrganizationCreateRequest,
            _organization_body(contacts={"spocName": "Ada\x00"}),
            ("contacts", "spocName"),
        ),
        (OrganizationCreateRequest, _organization_body(name="acme\x00"), ("name",)),
        (
            OrganizationCreateRequest,
            _organization_body(webhookEndpoint="https://x.example/\x00"),
            ("webhookEndpoint",),
        ),
        (ReleaseCreateRequest, _release_body(releaseNotes="fixes\x00"), ("releaseNotes",)),
        (
            ReleaseCreateRequest,
            _release_body(targets=["acme", "\x00"]),
            ("targets", 1),
        ),
        (
            ReleaseCreateRequest,
            _release_body(imageTags={**IMAGE_TAGS, "search": "sha-\x00"}),
            ("imageTags", "search"),
        ),
        (
            ReleaseCreateRequest,
            _release_body(newNonEssentialEnvs=[{"key": "A", "value": "\x00"}]),
            ("newNonEssentialEnvs", 0, "value"),
        ),
        (
            LogBatch,
            {"lines": [{"timestamp": "2026-06-01T12:00:00Z", "stream": "stderr", "line": "\x00"}]},
            ("lines", 0, "line"),
        ),
        (
            TaskStatusUpdate,
            {"status": "failed", "errorMessage": "exit 1\n\x00"},
            ("errorMessage",),
        ),
        (
            NonEssentialEnvCreate,
            {"key": "THEME", "value": "dark", "description": "colour\x00"},
            ("description",),
        ),
    ],
    ids=lambda value: ".".join(map(str, value)) if isinstance(value, tuple) else None,
)
def test_a_nul_character_is_refused_where_it_is(
    model: type[ContractModel], body: dict[str, Any], location: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(json.dumps(body))
    (error,) = caught.value.errors()
    assert error["type"] == "string_nul"
    assert error["loc"] == location
    assert error["msg"] == NUL_MESSAGE


def test_a_nul_in_a_dictionary_key_is_refused() -> None:
    body = _release_body(imageTags={**IMAGE_TAGS, "se\x00rch": "sha-9"})
    with pytest.raises(ValidationError) as caught:
        ReleaseCreateRequest.model_validate(body)
    assert caught.value.errors()[0]["type"] == "string_nul"
    assert caught.value.errors()[0]["loc"][0] == "imageTags"


def test_text_without_nul_is_kept_as_it_is() -> None:
    notes = "tabs\t, newlines\n, \u00e9, \ufffd and \U0001f680 are fine"
    request = ReleaseCreateRequest.model_validate(_release_body(releaseNotes=notes))
    assert request.release_notes == notes


def test_a_subclass_defined_later_refuses_nul_too() -> None:
    class Note(ContractModel):
        """A note."""

        text: str
        """The text."""
        tags: list[str] = []
        """Tags."""

    class Notes(ContractModel):
        """Notes."""

        notes: list[Note]
        """The notes."""

    with pytest.raises(ValidationError) as caught:
        Notes.model_validate({"notes": [{"text": "ok"}, {"text": "ok", "tags": ["a\x00"]}]})
    assert caught.value.errors()[0]["loc"] == ("notes", 1, "tags", 0)


def _unchecked_strings(schema: Any, path: str = "") -> list[str]:
    """Locations of string schemas in a core schema that the NUL check does not wrap."""
    if isinstance(schema, dict):
        if schema.get("type") == "function-after" and schema["function"]["function"] is _refuse_nul:
            return []
        if schema.get("type") == "str":
            return [path]
        return [
            found
            for key, value in schema.items()
            if key not in {"metadata", "serialization", "return_schema", "computed_fields"}
            for found in _unchecked_strings(value, f"{path}/{key}")
        ]
    if isinstance(schema, list | tuple):
        return [
            found
            for index, item in enumerate(schema)
            for found in _unchecked_strings(item, f"{path}/{index}")
        ]
    return []


@pytest.mark.parametrize("name", list(public_schema_sources()))
def test_every_string_of_every_public_contract_is_checked(name: str) -> None:
    source = public_schema_sources()[name]
    schema = (
        source.core_schema if isinstance(source, TypeAdapter) else source.__pydantic_core_schema__
    )
    assert _unchecked_strings(schema) == []


def test_replace_nul_makes_text_acceptable() -> None:
    assert replace_nul("a\x00b\x00") == "a\ufffdb\ufffd"
    assert replace_nul("plain") == "plain"
    line = replace_nul("helm: \x00")
    LogBatch.model_validate(
        {"lines": [{"timestamp": "2026-06-01T12:00:00Z", "stream": "stdout", "line": line}]}
    )


# every public model


@pytest.mark.parametrize(
    "model",
    [source for source in public_schema_sources().values() if isinstance(source, type)],
    ids=lambda model: model.__name__,
)
def test_every_field_is_camel_case_on_the_wire_and_documented(model: type[BaseModel]) -> None:
    assert model.__doc__
    for name, field in model.model_fields.items():
        alias = field.alias or name
        assert "_" not in alias, f"{model.__name__}.{name} has alias {alias}"
        assert field.description, f"{model.__name__}.{name} has no docstring"
