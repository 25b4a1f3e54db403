"""Structured JSON logs on stderr, each line carrying the request id."""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

import structlog

_SHARED: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else _console_renderer()
    )
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[*_SHARED, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.WriteLoggerFactory(file=_FlushingStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    # Library loggers (uvicorn, SQLAlchemy, alembic) render through the same JSON lines.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*_SHARED, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # A library's exc_info arrives as a tuple; without this it is printed as
                # "<traceback object>" and the stack is lost.
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric_level, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def _console_renderer() -> structlog.dev.ConsoleRenderer:
    """Human-readable lines, coloured only for a person at a terminal.

    structlog colours by default wherever it runs; a file, a pipe or a journal would get
    escape codes in every line. Off a terminal, tracebacks are plain too: the default
    (rich) one draws boxes and prints each frame's local variables into the log.
    """
    if _is_colour_terminal(sys.stderr):
        return structlog.dev.ConsoleRenderer(colors=True)
    return structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback
    )


def _is_colour_terminal(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):  # https://no-color.org
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _FlushingStderr:
    """Write through to the current stderr and flush, so a line is out before the response."""

    def write(self, text: str) -> int:
        written = sys.stderr.write(text)
        sys.stderr.flush()
        return written

    def flush(self) -> None:
        sys.stderr.flush()
