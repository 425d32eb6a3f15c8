"""``python -m wrktalk_agent``: the same as the ``wrktalk-agent`` command."""

from wrktalk_agent.cli import app

app(prog_name="wrktalk-agent")
