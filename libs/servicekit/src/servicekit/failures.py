"""How every command line of the project fails: one or two lines and a non-zero exit code.

A command that fails (a refused request, a database that does not exist, a malformed setting)
prints one ``error: ...`` line on stderr that names the setting at fault and what to do, and
exits non-zero; ``--debug`` shows the traceback instead. Every tier's typer app is built with
:func:`service_typer` (sub-commands with :func:`command_group`), whose click group renders any
exception a command lets through with :func:`describe_failure`.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import structlog
import typer
from pydantic import ValidationError

# typer carries its own copy of click; its exceptions are what a command raises to exit
from typer._click.core import Context
from typer._click.exceptions import ClickException
from typer.core import TyperGroup

from logconfig import configure_logging, logging_restored
from servicekit.errors import ServiceError

REFUSED_EXIT_CODE = 1
"""The service refused the work, or an unexpected failure: the input or the code is at fault."""

UNUSABLE_EXIT_CODE = 2
"""A setting is unusable, or the database (or another system) cannot be used."""

_IDENTITY_KEY = "servicekit.command_line"
_DEBUG_KEY = "servicekit.debug"


@dataclass(frozen=True)
class CommandLine:
    """Whose command line fails: its command (``gcc``) and its settings' prefix (``GCC_``)."""

    command: str
    env_prefix: str

    @property
    def database_setting(self) -> str:
        """The name of the database URL setting."""
        return f"{self.env_prefix}DATABASE_URL"


@dataclass(frozen=True)
class Failure:
    """What to print (one or two lines) and the exit code."""

    message: str
    exit_code: int


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: causes, contexts and SQLAlchemy's ``orig``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException) and id(orig) not in seen:
            yield orig
            seen.add(id(orig))
        current = current.__cause__ or current.__context__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _settings_failure(exc: ValidationError, cli: CommandLine) -> Failure:
    first = exc.errors()[0]
    name = "_".join(str(part) for part in first["loc"]).upper()
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return Failure(
        f"error: setting {cli.env_prefix}{name}: {first['msg']}{more}", UNUSABLE_EXIT_CODE
    )


def _database_failure(exc: BaseException, cli: CommandLine) -> Failure | None:
    """The failures whose cause is the database URL or the database behind it."""
    setting = cli.database_setting
    names = {type(link).__name__ for link in _chain(exc)}
    text = " ".join(_first_line(link) for link in _chain(exc))
    if "Could not parse SQLAlchemy URL" in text:
        return Failure(
            f"error: {setting} is not a database URL; expected "
            "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE",
            UNUSABLE_EXIT_CODE,
        )
    if re.search(r"No module named '(psycopg2?|pg8000|psycopg)'", text) or (
        "requires an async driver" in text or "NoSuchModuleError" in names
    ):
        return Failure(
            f"error: {setting} must name the asyncpg driver: write postgresql+asyncpg://... "
            "instead of postgresql://...",
            UNUSABLE_EXIT_CODE,
        )
    if missing := re.search(r'database "([^"]+)" does not exist', text):
        return Failure(
            f"error: database {missing.group(1)} does not exist ({setting}): create it "
            f"(createdb {missing.group(1)}) or correct the URL, then run `{cli.command} migrate`",
            UNUSABLE_EXIT_CODE,
        )
    if "UndefinedTableError" in names or re.search(r'relation "[^"]+" does not exist', text):
        return Failure(
            f"error: the database of {setting} has no tables yet: run `{cli.command} migrate`",
            UNUSABLE_EXIT_CODE,
        )
    if names & {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        return Failure(
            f"error: PostgreSQL refused the user or password of {setting}", UNUSABLE_EXIT_CODE
        )
    return None


def describe_failure(exc: BaseException, cli: CommandLine | None = None) -> Failure:
    """The line an operator reads for ``exc``, naming the setting at fault and what to do."""
    cli = cli or CommandLine(command="the service", env_prefix="")
    if isinstance(exc, ServiceError):
        where = f" ({exc.field})" if exc.field else ""
        return Failure(f"error{where}: {exc.detail}", REFUSED_EXIT_CODE)
    if isinstance(exc, ValidationError) and exc.title.endswith("Settings"):
        return _settings_failure(exc, cli)
    if (database := _database_failure(exc, cli)) is not None:
        return database
    if type(exc).__name__ == "DatabaseNotMigrated":
        return Failure(f"error: {exc}", UNUSABLE_EXIT_CODE)
    unreachable = next((link for link in _chain(exc) if isinstance(link, OSError)), None)
    if unreachable is not None:
        return Failure(
            f"error: cannot connect: {_first_line(unreachable)}; check that the server runs "
            f"and that {cli.database_setting} (or the setting of that server) names it",
            UNUSABLE_EXIT_CODE,
        )
    if any(type(link).__module__.startswith("sqlalchemy") for link in _chain(exc)):
        return Failure(
            f"error: the database of {cli.database_setting} refused the command: "
            f"{_first_line(exc)}",
            UNUSABLE_EXIT_CODE,
        )
    return Failure(
        f"error: {type(exc).__name__}: {_first_line(exc)}\n"
        "(run the command again with --debug for the traceback)",
        REFUSED_EXIT_CODE,
    )


def exit_with_failure(exc: BaseException, meta: dict[str, Any]) -> NoReturn:
    """Print ``exc`` as :func:`describe_failure` does and exit, or re-raise it when ``meta``
    (the command's context) says ``--debug``, so that the traceback shows."""
    if meta.get(_DEBUG_KEY):
        raise exc
    failure = describe_failure(exc, meta.get(_IDENTITY_KEY))
    print(failure.message, file=sys.stderr)
    raise SystemExit(failure.exit_code) from None


class FailureRenderingGroup(TyperGroup):
    """A typer group whose commands fail in one or two lines (see the module)."""

    def invoke(self, ctx: Context) -> Any:
        """Run the command; render what it lets through."""
        try:
            return super().invoke(ctx)
        except (ClickException, typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            exit_with_failure(exc, ctx.meta)


def log_to_stderr(*, debug: bool) -> None:
    """Log a command's events on stderr, so that its output (``--json`` included) is only
    what it prints: warnings and errors, or every event with ``--debug``. The process commands
    (``serve``, ``worker``, ...) configure their own logging from the settings afterwards."""
    level = "INFO" if debug else "WARNING"
    configure_logging(level=level, json=False, stream=sys.stderr)
    # a module's logger must not keep this configuration once the command ends (tests run
    # many commands in one process, and restore the configuration after each)
    structlog.configure(cache_logger_on_first_use=False)
    # a library logger with a level of its own (werkzeug, say) passes the root's level by
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)


def command_group(help_text: str) -> typer.Typer:
    """A group of sub-commands (``gcc org``) that fails like its service's command line."""
    return typer.Typer(cls=FailureRenderingGroup, help=help_text, no_args_is_help=True)


def service_typer(cli: CommandLine, help_text: str) -> typer.Typer:
    """A tier's command line: ``--debug`` shows a failure's traceback, any other failure is
    one or two lines naming the setting at fault."""
    app = command_group(help_text)

    @app.callback()
    def main(
        ctx: typer.Context,
        debug: bool = typer.Option(
            False, "--debug", help="On a failure, show the full traceback; log every event."
        ),
    ) -> None:
        ctx.meta[_IDENTITY_KEY] = cli
        ctx.meta[_DEBUG_KEY] = debug
        ctx.with_resource(logging_restored())
        log_to_stderr(debug=debug)

    main.__doc__ = help_text
    return app
