"""Write ``docs/configuration.md`` from the settings classes of the three tiers.

``uv run python -m tools.config_reference`` rewrites the file; ``--check`` exits non-zero when
the committed file differs from what the settings classes produce.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

import customer_backend.settings
import gcc.settings
import wrktalk_agent.settings

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "configuration.md"

TIERS: list[tuple[str, type[BaseSettings], str]] = [
    (
        "GCC",
        gcc.settings.Settings,
        "Read by `gcc serve`, `worker`, `beat` and `migrate`. S3 credentials come from the usual "
        "`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_REGION`.",
    ),
    (
        "Customer backend",
        customer_backend.settings.Settings,
        "Read by `customer-backend serve`, `worker`, `beat` and `migrate`. Bucket credentials "
        "come from the usual `AWS_*` variables. Any setting can also come from a file named "
        "after its variable in lower case (`wrktalk_gcc_api_key`, `wrktalk_webhook_secret`) in "
        "the directory `WRKTALK_SECRETS_DIR` names, as Docker and Kubernetes mount secrets; "
        "an environment variable wins over the file.",
    ),
    (
        "Agent",
        wrktalk_agent.settings.Settings,
        "Read by `wrktalk-agent run`, `once` and `check`. The agent holds no database or "
        "bucket credentials.",
    ),
]


def _default(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "(development value)" if value.get_secret_value() else "(empty)"
    if value is None:
        return "(unset)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(empty)"
    text = str(getattr(value, "value", value))
    return f"`{text}`" if text else "(empty)"


def render() -> str:
    """The whole configuration reference as Markdown."""
    lines = [
        "# Configuration reference",
        "",
        "Every setting of every tier, generated from the settings classes by "
        "`uv run python -m tools.config_reference` (a test fails when this file is stale).",
        "Outside `environment=development`, the services refuse the built-in development secrets.",
        "",
    ]
    for title, settings_class, intro in TIERS:
        prefix = str(settings_class.model_config.get("env_prefix", ""))
        lines += [
            f"## {title}",
            "",
            intro,
            "",
            "| variable | default | description |",
            "|---|---|---|",
        ]
        for name, field in settings_class.model_fields.items():
            default = field.get_default(call_default_factory=True)
            description = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{prefix}{name.upper()}` | {_default(default)} | {description} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write the reference, or with ``--check`` compare it with the committed file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args(argv)
    content = render()
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != content:
            print(f"{OUTPUT} is stale: run `uv run python -m tools.config_reference`")
            return 1
        return 0
    OUTPUT.write_text(content)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
