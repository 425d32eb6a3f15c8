"""Developer and CI sessions: lint, typecheck, tests (and, later, the local stack)."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "typecheck", "tests"]

LIB_SOURCES = [
    "libs/contracts/src",
    "libs/signing/src",
    "libs/objectstore/src",
    "libs/logconfig/src",
    "libs/timekeeping/src",
    "libs/servicekit/src",
    "libs/archivesafety/src",
    "libs/appconfig/src",
    "libs/testing/src",
]
TIER_SOURCES = ["gcc/src", "customer_backend/src", "agent/src", "tools"]


def uv_run(session: nox.Session, *args: str) -> None:
    """Run a command in the workspace environment that uv keeps in step with uv.lock."""
    session.run("uv", "run", "--frozen", *args, external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check (including the rule that libs/ never imports a tier) and ruff format."""
    uv_run(session, "ruff", "check", ".")
    uv_run(session, "ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy: strict on libs/, checked on the tiers."""
    uv_run(session, "mypy", *LIB_SOURCES, *TIER_SOURCES)


@nox.session
def tests(session: nox.Session) -> None:
    """pytest over every workspace member, against the machine's real services."""
    uv_run(session, "pytest", *session.posargs)


@nox.session(python=False)
def stack(session: nox.Session) -> None:
    """Run every tier on this machine until Ctrl-C (`-- --reset` starts from empty databases)."""
    uv_run(session, "python", "-m", "tools.stack", *session.posargs)


@nox.session(python=False)
def demo(session: nox.Session) -> None:
    """Send a release through the running stack and print its timeline."""
    uv_run(session, "python", "-m", "tools.demo", *session.posargs)
