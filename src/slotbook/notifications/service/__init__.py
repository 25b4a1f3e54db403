"""The notifications service: the worker (``worker``), what the emails say (``emails``,
``calendar``) and how they leave (``transports``); webhook endpoints (``webhooks``), the
address rule (``addresses``) and how webhooks leave (``webhook_delivery``)."""

from slotbook.notifications.service.emails import format_when
from slotbook.notifications.service.transports import (
    FileTransport,
    PermanentFailure,
    SmtpTransport,
    Transport,
    transport_from_settings,
)
from slotbook.notifications.service.webhook_delivery import WebhookConfig
from slotbook.notifications.service.worker import Worker, WorkerConfig, run_once, run_worker

__all__ = [
    "FileTransport",
    "PermanentFailure",
    "SmtpTransport",
    "Transport",
    "WebhookConfig",
    "Worker",
    "WorkerConfig",
    "format_when",
    "run_once",
    "run_worker",
    "transport_from_settings",
]
