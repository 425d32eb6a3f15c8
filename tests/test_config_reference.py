from tools.config_reference import OUTPUT, render


def test_configuration_reference_is_current() -> None:
    assert OUTPUT.read_text() == render(), "run `uv run python -m tools.config_reference`"


def test_every_setting_has_a_description() -> None:
    content = render()
    assert "| `GCC_DATABASE_URL` |" in content
    assert "| `WRKTALK_WEBHOOK_SECRET` |" in content
    assert "| `WRKTALK_AGENT_POLL_INTERVAL` |" in content
    assert not [line for line in content.splitlines() if line.endswith("|  |")]
