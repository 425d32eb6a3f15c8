"""Operator commands: gcc keys generate|show, the Ed25519 keys that sign release manifests."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from servicekit.failures import command_group
from signing import SigningKey, load_signing_keys

keys_app = command_group("Manifest signing keys: generate a pair, show the public keys.")


def write_private_key(key: SigningKey, directory: Path) -> Path:
    """Write ``key`` as ``<key id>.pem`` (mode 0600) into ``directory``; never overwrites."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key.key_id}.pem"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.private_pem())
    return path


@keys_app.command()
def generate(
    out: Path = typer.Option(
        Path("."),
        "--out",
        "-o",
        help="Directory the private key is written to, as <key id>.pem (mode 0600).",
    ),
) -> None:
    """Generate an Ed25519 key pair: the private key into a file, the public key printed for
    the backends' and agents' trusted keys."""
    key = SigningKey.generate()
    path = write_private_key(key, out)
    typer.echo(f"private key: {path}")
    typer.echo(f"key id:      {key.key_id}")
    typer.echo(f"public key:  {key.public_text()}")


@keys_app.command()
def show(
    path: Path = typer.Argument(
        ..., help="A PEM private key, or a directory of them (GCC_MANIFEST_SIGNING_KEYS)."
    ),
) -> None:
    """Print the id and public key of every signing key in a file or directory."""
    try:
        keys = load_signing_keys(path)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for key in keys:
        typer.echo(f"{key.key_id} {key.public_text()}")
