"""Developer and CI sessions: lint, typecheck, tests, fuzz, and the local stack."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "typecheck", "tests"]

LIB_SOURCES = [
    "libs/contracts/src",
    "libs/signing/src",
    "libs/objectstore/src",
    "libs/logconfig/src",
    "libs/telemetry/src",
    "libs/timekeeping/src",
    "libs/servicekit/src",
    "libs/archivesafety/src",
    "libs/appconfig/src",
    "libs/consolekit/src",
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
def chaos(session: nox.Session) -> None:
    """The chaos suite (tests/chaos): real processes under faults, on a PostgreSQL cluster and
    a Redis server it starts for itself (never the machine's shared ones)."""
    session.env["WRKTALK_CHAOS"] = "1"
    uv_run(session, "pytest", "tests/chaos", "-v", "-s", "--durations=10", *session.posargs)


@nox.session(python=False)
def stack(session: nox.Session) -> None:
    """Run every tier on this machine until Ctrl-C (`-- --reset` starts from empty databases)."""
    uv_run(session, "python", "-m", "tools.stack", *session.posargs)


@nox.session(python=False)
def demo(session: nox.Session) -> None:
    """Send a release through the running stack and print its timeline."""
    uv_run(session, "python", "-m", "tools.demo", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Schema fuzzing (schemathesis) of GCC and the customer backend served on loopback, with
    every kind of credential: no 5xx, every answer as documented, the links followed.

    Bounded to a few minutes; `WRKTALK_FUZZ_EXAMPLES` and `WRKTALK_FUZZ_SEQUENCES` raise the
    number of generated requests per operation and of call sequences for a longer run.
    """
    session.env["WRKTALK_FUZZ"] = "1"
    uv_run(session, "pytest", "tests/fuzz", *session.posargs)
