"""Imports every domain's models so the metadata (and Alembic) sees all tables."""

from slotbook.auth.models import Tenant, User
from slotbook.booking.models import (
    Appointment,
    AppointmentEvent,
    AppointmentLine,
    IdempotencyRecord,
)
from slotbook.catalog.models import Customer, Outlet, Service, Staff, StaffService, TimeOff
from slotbook.feeds.models import CalendarFeed
from slotbook.notifications.models import (
    NotificationDelivery,
    NotificationReminder,
    WebhookDelivery,
    WebhookEndpoint,
)
from slotbook.outbox import OutboxEvent
from slotbook.public.models import RateLimitWindow

__all__ = [
    "Appointment",
    "AppointmentEvent",
    "AppointmentLine",
    "CalendarFeed",
    "Customer",
    "IdempotencyRecord",
    "NotificationDelivery",
    "NotificationReminder",
    "OutboxEvent",
    "Outlet",
    "RateLimitWindow",
    "Service",
    "Staff",
    "StaffService",
    "Tenant",
    "TimeOff",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
