"""Structured JSON logs on stderr, each line carrying the request id."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.WriteLoggerFactory(file=_FlushingStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


class _FlushingStderr:
    """Write through to the current stderr and flush, so a line is out before the response."""

    def write(self, text: str) -> int:
        written = sys.stderr.write(text)
        sys.stderr.flush()
        return written

    def flush(self) -> None:
        sys.stderr.flush()
