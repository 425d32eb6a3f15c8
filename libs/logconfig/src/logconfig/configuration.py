"""One logging configuration for every process: structlog and stdlib logging, one JSON line each."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import structlog
from structlog.typing import EventDict, ExceptionRenderer, Processor, WrappedLogger

from logconfig.correlation import add_trace_context
from logconfig.redaction import redact_secrets

# Libraries that install their own handlers; their records are sent to the root handler instead
# so they come out in the same format. A server started later must not install its own again
# (uvicorn: ``log_config=None``; Celery: ``worker_hijack_root_logger=False``).
THIRD_PARTY_LOGGERS: tuple[str, ...] = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "gunicorn",
    "gunicorn.error",
    "gunicorn.access",
    "celery",
    "celery.app.trace",
    "celery.worker",
)

# uvicorn passes an ANSI-coloured copy of each message as ``extra``; it is noise in JSON.
_DROPPED_EXTRA_KEYS = ("color_message",)


class _StructlogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler this module installs; its type lets a second call find and replace it."""


class _AddService:
    """Processor adding the service name to every event that does not carry one."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", self.service)
        return event_dict


def _drop_noise_extras(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    for key in _DROPPED_EXTRA_KEYS:
        event_dict.pop(key, None)
    return event_dict


def configure_logging(
    *,
    level: str = "INFO",
    json: bool = True,
    service: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and stdlib logging to write one event per line.

    Every event carries ``timestamp`` (ISO 8601, UTC), ``level``, ``event``, ``logger`` and,
    when given, ``service``, plus the fields bound with ``structlog.contextvars`` and, inside
    an OpenTelemetry span, its ``trace_id`` and ``span_id``; exceptions
    are rendered into ``exception``. Values of secret-looking keys are redacted by
    :func:`logconfig.redact_secrets`. With ``json=False`` events are rendered for a terminal
    instead. Records from stdlib loggers (uvicorn, Celery, libraries) pass through the same
    processors. ``stream`` defaults to the current ``sys.stdout``.

    Calling it again replaces the previous configuration rather than adding a second handler.
    Raises :class:`ValueError` for an unknown level name.
    """
    numeric_level = _level_number(level)
    output = sys.stdout if stream is None else stream
    shared = _shared_processors(service)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            redact_secrets,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *shared,
            structlog.stdlib.ExtraAdder(),
            _drop_noise_extras,
            redact_secrets,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderer(json=json, output=output),
        ],
    )
    _install_root_handler(formatter, output, numeric_level)


def _shared_processors(service: str | None) -> list[Processor]:
    """What both structlog events and stdlib records go through before rendering."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_trace_context,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]
    if service is not None:
        shared.append(_AddService(service))
    return shared


def _renderer(*, json: bool, output: TextIO) -> list[Processor]:
    if json:
        return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    colors = _is_terminal(output)
    return [
        structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=_console_exception_formatter(colors)
        )
    ]


def _install_root_handler(formatter: logging.Formatter, output: TextIO, level: int) -> None:
    """Replace this module's root handler, and send the libraries' records to it."""
    handler = _StructlogHandler(output)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _StructlogHandler):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in THIRD_PARTY_LOGGERS:
        third_party = logging.getLogger(name)
        third_party.handlers.clear()
        third_party.propagate = True
    logging.captureWarnings(True)


@contextmanager
def logging_restored() -> Iterator[None]:
    """Undo, when the block ends, what :func:`configure_logging` changed inside it.

    For tests and in-process tools that configure logging for a while: the root logger's
    handlers and level, the handlers and propagation of :data:`THIRD_PARTY_LOGGERS`, warning
    capture, structlog's configuration and its context variables are put back as they were.
    """
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    third_party = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in THIRD_PARTY_LOGGERS
    }
    structlog_config = structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = root_handlers
        root.setLevel(root_level)
        for name, (handlers, propagate) in third_party.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate
        logging.captureWarnings(False)
        structlog.contextvars.clear_contextvars()
        structlog.configure(**structlog_config)


def get_logger(name: str | None = None, **initial_values: object) -> structlog.stdlib.BoundLogger:
    """Return a structlog logger named ``name`` (usually ``__name__``) with bound fields."""
    if name is None:
        return structlog.stdlib.get_logger(**initial_values)
    return structlog.stdlib.get_logger(name, **initial_values)


def _level_number(level: str) -> int:
    levels = logging.getLevelNamesMapping()
    try:
        return levels[level.upper()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}") from None


def _console_exception_formatter(colors: bool) -> ExceptionRenderer:
    """Tracebacks without the frames' local variables.

    Locals hold what the redaction cannot see (a statement's parameters, a request's
    credentials), so they are never printed. On a terminal rich draws the traceback when it is
    installed; elsewhere (a container's log) it is Python's plain text, which is quicker to
    render and to search.
    """
    if colors and importlib.util.find_spec("rich") is not None:
        return structlog.dev.RichTracebackFormatter(show_locals=False)
    return structlog.dev.plain_traceback


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
