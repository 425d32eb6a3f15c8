"""Admin command: ``customer-backend release import BUNDLE``, the offline bundle of a release
(written by ``gcc release export``), taken in as the Control Tower's upload form does."""

from __future__ import annotations

from pathlib import Path

import typer

from customer_backend.intake.bundles import BundleImport, import_bundle
from customer_backend.runtime import open_runtime, task_sender
from customer_backend.settings import get_settings
from servicekit.commands import run_command
from servicekit.failures import command_group

release_app = command_group("Releases that reach this installation without GCC.")


@release_app.command("import")
def import_release(
    bundle: Path = typer.Argument(
        ..., help="The bundle file (a tar) written by `gcc release export`."
    ),
) -> None:
    """Verify an offline release bundle (signed manifest, every artifact's SHA256 and size)
    while storing its artifact in the bucket, then take the release in as if GCC had sent it:
    the admins are emailed and it can be scheduled. A refused bundle stores nothing."""
    if not bundle.is_file():
        typer.echo(f"error: {bundle} is not a file", err=True)
        raise typer.Exit(code=1)
    settings = get_settings()

    async def main() -> BundleImport:
        async with open_runtime(settings, send_task=task_sender(settings)) as runtime:
            return await import_bundle(runtime=runtime, source=bundle)

    imported = run_command(main)
    typer.echo(
        f"imported {imported.version}: deployment {imported.deployment_id}, artifact "
        f"{imported.bucket_key} ({imported.size_bytes} bytes); schedule it in the Control "
        "Tower or with `customer-backend deployments schedule`"
    )
