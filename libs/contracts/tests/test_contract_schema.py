"""The committed JSON Schemas in docs/schemas match the models, and the CLI keeps them so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.schema import (
    check_schemas,
    find_repository_root,
    main,
    public_schema_sources,
    render_schemas,
    write_schemas,
)

REPOSITORY_ROOT = find_repository_root(Path(__file__).resolve().parent)


def test_committed_schemas_match_the_models() -> None:
    assert REPOSITORY_ROOT is not None
    problems = check_schemas(REPOSITORY_ROOT / "docs" / "schemas")
    assert problems == [], "run: uv run python -m contracts.schema\n" + "\n".join(problems)


def test_every_public_model_and_the_task_union_have_a_schema() -> None:
    names = set(render_schemas())
    for expected in ("ReleasePublishedWebhook", "AgentPollResponse", "AgentTask", "ErrorResponse"):
        assert f"{expected}.json" in names
    assert "ContractModel.json" not in names
    assert len(names) == len(public_schema_sources())


def test_rendering_is_deterministic_sorted_and_newline_terminated() -> None:
    first = render_schemas()
    assert first == render_schemas()
    for text in first.values():
        assert text.endswith("}\n")
        assert json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n" == text


def test_schemas_use_camel_case_names() -> None:
    schema = json.loads(render_schemas()["ReleaseCreateRequest.json"])
    assert "imageTags" in schema["properties"]
    assert "isForced" in schema["properties"]
    assert "image_tags" not in schema["properties"]


def test_write_then_check_is_clean_and_check_reports_drift(tmp_path: Path) -> None:
    assert write_schemas(tmp_path)
    assert check_schemas(tmp_path) == []
    assert write_schemas(tmp_path) == []

    (tmp_path / "Obsolete.json").write_text("{}\n")
    (tmp_path / "LogBatch.json").write_text("{}\n")
    (tmp_path / "LicenseStatus.json").unlink()
    assert check_schemas(tmp_path) == [
        "Obsolete.json: no public contract has this name (stale file)",
        "LicenseStatus.json: missing",
        "LogBatch.json: differs from what the models produce",
    ]

    write_schemas(tmp_path)
    assert check_schemas(tmp_path) == []
    assert not (tmp_path / "Obsolete.json").exists()


def test_cli_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--check"]) == 1
    assert "missing" in capsys.readouterr().err
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--check"]) == 0
    assert "match the models" in capsys.readouterr().out
