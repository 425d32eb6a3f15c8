import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from contracts import DeploymentType
from wrktalk_agent.cli import app
from wrktalk_agent.settings import Settings, get_settings


def test_settings_use_the_seed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRKTALK_AGENT_BACKEND_URL", "http://backend:3000")
    monkeypatch.setenv("WRKTALK_AGENT_DEPLOYMENT_TYPE", "gitops")
    monkeypatch.setenv("WRKTALK_AGENT_POLL_INTERVAL", "5")
    settings = Settings()
    assert settings.backend_url == "http://backend:3000"
    assert settings.deployment_type is DeploymentType.GITOPS
    assert settings.poll_interval == 5


def test_unknown_deployment_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRKTALK_AGENT_DEPLOYMENT_TYPE", "mainframe")
    with pytest.raises(ValidationError, match="deployment_type"):
        Settings()


def test_config_command_masks_the_agent_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRKTALK_AGENT_AGENT_SECRET", "s3cr3t-value")
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 0
    assert "s3cr3t-value" not in result.output


def test_a_refused_setting_is_one_line_naming_it_with_exit_2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WRKTALK_AGENT_DEPLOYMENT_TYPE", "mainframe")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["once"])
        config = CliRunner().invoke(app, ["config"])
        debug = CliRunner().invoke(app, ["--debug", "config"])
    finally:
        get_settings.cache_clear()

    for refused in (result, config):
        assert refused.exit_code == 2
        [line] = refused.stderr.splitlines()
        assert line.startswith("wrktalk-agent: setting WRKTALK_AGENT_DEPLOYMENT_TYPE: Input ")
    assert debug.exit_code == 2
    assert "validation error for Settings" in debug.stderr
