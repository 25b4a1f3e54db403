"""The notifications service: the worker (``worker``), what the emails say (``emails``,
``calendar``) and how they leave (``transports``)."""

from slotbook.notifications.service.emails import format_when
from slotbook.notifications.service.transports import (
    FileTransport,
    PermanentFailure,
    SmtpTransport,
    Transport,
    transport_from_settings,
)
from slotbook.notifications.service.worker import Worker, WorkerConfig, run_once, run_worker

__all__ = [
    "FileTransport",
    "PermanentFailure",
    "SmtpTransport",
    "Transport",
    "Worker",
    "WorkerConfig",
    "format_when",
    "run_once",
    "run_worker",
    "transport_from_settings",
]
