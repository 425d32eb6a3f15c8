import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from contracts import DeploymentType
from customer_backend.cli import app
from customer_backend.settings import Settings


def test_settings_read_the_wrktalk_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRKTALK_ORGANIZATION_NAME", "acme")
    monkeypatch.setenv("WRKTALK_DEPLOYMENT_TYPE", "docker")
    monkeypatch.setenv("WRKTALK_GCC_POLL_INTERVAL", "60")
    settings = Settings()
    assert settings.organization_name == "acme"
    assert settings.deployment_type is DeploymentType.DOCKER
    assert settings.gcc_poll_interval == 60


def test_production_refuses_default_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRKTALK_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="WRKTALK_AGENT_SECRET"):
        Settings()


def test_an_air_gapped_backend_needs_no_webhook_secret_or_gcc_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WRKTALK_ENVIRONMENT", "production")
    monkeypatch.setenv("WRKTALK_AGENT_SECRET", "a-real-agent-secret")
    with pytest.raises(ValidationError, match="WRKTALK_WEBHOOK_SECRET"):
        Settings()
    monkeypatch.setenv("WRKTALK_AIR_GAPPED", "true")
    assert Settings().air_gapped is True


def test_config_command_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRKTALK_GCC_API_KEY", "gcc_very_secret_key")
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 0
    assert "gcc_very_secret_key" not in result.output
    assert '"organization_name"' in result.output


def test_webhook_secrets_are_read_as_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WRKTALK_WEBHOOK_SECRET", " whsec_b2xk, ,whsec_bmV3 ")
    settings = Settings()
    assert [secret.get_secret_value() for secret in settings.webhook_secret] == [
        "whsec_b2xk",
        "whsec_bmV3",
    ]


def test_a_webhook_secret_that_is_not_base64_is_refused_at_load_without_quoting_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WRKTALK_WEBHOOK_SECRET", "whsec_b2xk,not*base64")
    with pytest.raises(ValidationError, match="webhook secret 2 of 2 is not base64") as raised:
        Settings()
    assert "not*base64" not in str(raised.value)
