"""Which events email the customer, and what the emails say.

Bookings: confirmation (with the private manage link and an .ics), move, cancellation
and reminder. A booking made by promotion from the waitlist ("appointment.created" whose
payload names its ``waitlist_entry_id``) is confirmed as "a place opened up", with the
same link and .ics: it is the one message a promotion sends ("waitlist.promoted" is for
webhooks).

The waitlist: joined (the place in line and the entry's private link, to leave),
expired (the class started without a place for them) and cancelled, when they left or
the business turned the waitlist off (not when they got a place another way: that
booking's confirmation says it all).

Each message goes to its own customer and no one else; a customer without an email
address gets none. Times are the outlet's, with its zone named:
"Mon 7 Dec 2026, 10:00-11:00 (Europe/London)".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from slotbook.links import manage_url, waitlist_url
from slotbook.notifications.repository import EntryContext, MailContext
from slotbook.notifications.schemas import Attachment, ClaimedEvent, Email
from slotbook.notifications.service.calendar import booking_calendar
from slotbook.scheduling.rules import OPEN_STATUSES, WaitlistStatus, has_started

CHANNEL = "email"
# The events that email the customer, and the template of each.
KINDS = {
    "appointment.created": "confirmation",
    "appointment.confirmed": "confirmation",  # a pending booking, now confirmed
    "appointment.rescheduled": "rescheduled",
    "appointment.cancelled": "cancelled",
    "appointment.reminder": "reminder",
    "appointment.staff_changed": "staff_changed",  # a class session's substitute teacher
}
WITH_CALENDAR = frozenset({"confirmation", "rescheduled", "cancelled"})
# The waitlist's events that email the customer, and the template of each.
WAITLIST_KINDS = {
    "waitlist.joined": "waitlist_joined",
    "waitlist.expired": "waitlist_expired",
    "waitlist.cancelled": "waitlist_cancelled",
    "waitlist.session_changed": "waitlist_session_changed",  # the class moved or changed teacher
}
# Why a cancelled entry tells its customer: they left (or the desk took them off), or
# the business turned the waitlist off. "booked" (a place got another way) tells nothing.
MAILED_CANCEL_REASONS = frozenset({"left", "waitlist_closed", "session_cancelled"})
# The events that make a new version of the booking's calendar entry.
VERSIONS = ("appointment.rescheduled", "appointment.cancelled", "appointment.confirmed")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_templates = Environment(
    loader=PackageLoader("slotbook.notifications", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    auto_reload=False,
)


@dataclass(frozen=True)
class MailConfig:
    public_url: str
    secret: str
    sender_address: str


def format_day(day: date) -> str:
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_when(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    """ "Mon 7 Dec 2026, 10:00-11:00 (Europe/London)": the outlet's clock, zone named."""
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    return f"{format_day(start.date())}, {start:%H:%M}-{end:%H:%M} ({zone.key})"


def _format_local(when: dict[str, str], zone: ZoneInfo) -> str:
    """The same for the local date and times the history records."""
    day = date.fromisoformat(when["date"])
    start, end = time.fromisoformat(when["start_time"]), time.fromisoformat(when["end_time"])
    return f"{format_day(day)}, {start:%H:%M}-{end:%H:%M} ({zone.key})"


def _instants(event: ClaimedEvent, context: MailContext) -> tuple[datetime, datetime]:
    """The interval the event speaks of (the booking may have moved again since)."""
    payload = event.payload
    if "starts_at" in payload and "ends_at" in payload:
        return (
            datetime.fromisoformat(payload["starts_at"]),
            datetime.fromisoformat(payload["ends_at"]),
        )
    return context.starts_at, context.ends_at


def reminder_still_due(event: ClaimedEvent, context: MailContext, now: datetime) -> bool:
    """A reminder is for an open booking at the start it was scheduled for, not yet begun:
    a cancel or a move after it was scheduled drops it (a move schedules its own)."""
    starts_at = datetime.fromisoformat(event.payload["starts_at"])
    return (
        context.status in OPEN_STATUSES
        and context.starts_at == starts_at
        and context.starts_at > now
    )


def booking_of(event: ClaimedEvent) -> tuple[str, str] | None:
    """(tenant, appointment) of an event that emails the customer; None for the others."""
    appointment_id = event.payload.get("appointment_id")
    if event.type not in KINDS or not isinstance(appointment_id, str):
        return None
    return event.tenant_id, appointment_id


def entry_of(event: ClaimedEvent) -> tuple[str, str] | None:
    """(tenant, waitlist entry) of a waitlist event that emails the customer; None for
    the others."""
    entry_id = event.payload.get("entry_id")
    if event.type not in WAITLIST_KINDS or not isinstance(entry_id, str):
        return None
    if event.type == "waitlist.cancelled" and event.payload.get("reason") not in (
        MAILED_CANCEL_REASONS
    ):
        return None
    return event.tenant_id, entry_id


def promoted_from(event: ClaimedEvent) -> str | None:
    """The waitlist entry a booking was made from, for its "appointment.created"."""
    entry_id = event.payload.get("waitlist_entry_id")
    if event.type != "appointment.created" or not isinstance(entry_id, str):
        return None
    return entry_id


def needs_sequence(event: ClaimedEvent) -> bool:
    """Whether the event's .ics is a later version of the calendar entry."""
    return event.type in VERSIONS


def emails_for(
    event: ClaimedEvent,
    context: MailContext | None,
    sequence: int,
    config: MailConfig,
    now: datetime,
) -> list[Email]:
    """The messages ``event`` sends (none for events that email nobody), given the
    booking as it is now (``context``) and the calendar entry's version (``sequence``)."""
    booking = booking_of(event)
    if booking is None or context is None or not context.customer_email:
        return []
    kind, appointment_id = KINDS[event.type], booking[1]
    if kind == "reminder" and not reminder_still_due(event, context, now):
        return []
    zone = ZoneInfo(context.timezone)
    starts_at, ends_at = _instants(event, context)
    link = manage_url(config.public_url, config.secret, event.tenant_id, appointment_id)
    services = list(dict.fromkeys(line.service_name for line in context.lines))
    title = ", ".join(services) or "Your booking"
    when = format_when(starts_at, ends_at, zone)
    values: dict[str, Any] = {
        "business_name": context.business_name,
        "customer_name": context.customer_name,
        "title": title,
        "when": when,
        "lines": [
            {
                "service": line.service_name,
                "staff": line.staff_name,
                # Each line keeps its offset in the booking, at the event's start.
                "time": format_when(
                    starts_at + (line.starts_at - context.starts_at),
                    starts_at + (line.ends_at - context.starts_at),
                    zone,
                ).split(", ", 1)[1],
            }
            for line in context.lines
        ],
        "outlet_name": context.outlet_name,
        "outlet_address": context.outlet_address,
        "manage_url": link,
        "pending": event.payload.get("status") == "pending",
        "promoted": kind == "confirmation" and promoted_from(event) is not None,
        "party_size": context.party_size,
        "previous_when": (
            _format_local(event.payload["from"], zone) if kind == "rescheduled" else None
        ),
        "reason": event.payload.get("reason"),
    }
    confirmed = "Booking received" if values["pending"] else "Booking confirmed"
    subject = {
        "confirmation": f"{'A place opened up' if values['promoted'] else confirmed}: "
        f"{title}, {when}",
        "rescheduled": f"Booking moved: {title}, now {when}",
        "cancelled": f"Booking cancelled: {title}, {when}",
        "reminder": f"Reminder: {title}, {when}",
        "staff_changed": f"New teacher: {title}, {when}",
    }[kind]
    attachments: tuple[Attachment, ...] = ()
    if kind in WITH_CALENDAR:
        location = ", ".join(part for part in (context.outlet_name, context.outlet_address) if part)
        ics = booking_calendar(
            appointment_id=appointment_id,
            summary=f"{title} at {context.business_name}",
            starts_at=starts_at,
            ends_at=ends_at,
            stamp=event.created_at,
            sequence=sequence,
            location=location,
            description=f"Manage your booking: {link}",
            url=link,
            status="CANCELLED"
            if kind == "cancelled"
            else ("TENTATIVE" if values["pending"] else "CONFIRMED"),
        )
        attachments = (Attachment("booking.ics", "text", "calendar", ics, {"method": "PUBLISH"}),)
    return [
        _email(kind, appointment_id, context.customer_email, context, subject, values, attachments)
    ]


def entry_still_waiting(context: EntryContext, now: datetime) -> bool:
    """Whether the entry still waits for a session that has not started: a "you're on
    the waitlist" message that arrives after a promotion, a cancel or the start would
    tell the customer something no longer true (what happened instead tells them)."""
    return context.status == WaitlistStatus.WAITING.value and not has_started(
        context.starts_at, now
    )


def entry_emails_for(
    event: ClaimedEvent, context: EntryContext | None, config: MailConfig, now: datetime
) -> list[Email]:
    """The message a waitlist event sends its customer (none for the events that email
    nobody), given the entry as it is now (``context``)."""
    entry = entry_of(event)
    if entry is None or context is None or not context.customer_email:
        return []
    kind = WAITLIST_KINDS[event.type]
    if kind == "waitlist_joined" and not entry_still_waiting(context, now):
        return []
    zone = ZoneInfo(context.timezone)
    starts_at, ends_at = _entry_instants(event, context)
    when = format_when(starts_at, ends_at, zone)
    title = context.service_name
    position = event.payload.get("position")
    values: dict[str, Any] = {
        "business_name": context.business_name,
        "customer_name": context.customer_name,
        "title": title,
        "when": when,
        "lines": [
            {
                "service": context.service_name,
                "staff": context.staff_name,
                "time": when.split(", ", 1)[1],
            }
        ],
        "outlet_name": context.outlet_name,
        "outlet_address": context.outlet_address,
        "party_size": context.party_size,
        "position": position if isinstance(position, int) else None,
        "waitlist_url": waitlist_url(config.public_url, config.secret, event.tenant_id, entry[1]),
        "closed": event.payload.get("reason") == "waitlist_closed",
        "session_cancelled": event.payload.get("reason") == "session_cancelled",
    }
    left = "Waitlist closed" if values["closed"] else "You left the waitlist"
    if values["session_cancelled"]:
        left = "Class cancelled"
    subject = {
        "waitlist_joined": f"You're on the waitlist: {title}, {when}",
        "waitlist_expired": f"No place opened up: {title}, {when}",
        "waitlist_cancelled": f"{left}: {title}, {when}",
        "waitlist_session_changed": f"The class you wait for has changed: {title}, now {when}",
    }[kind]
    return [_email(kind, None, context.customer_email, context, subject, values)]


def _entry_instants(event: ClaimedEvent, context: EntryContext) -> tuple[datetime, datetime]:
    payload = event.payload
    if "starts_at" in payload and "ends_at" in payload:
        return (
            datetime.fromisoformat(payload["starts_at"]),
            datetime.fromisoformat(payload["ends_at"]),
        )
    return context.starts_at, context.ends_at


class _Addressed(Protocol):
    """What a message needs of its context: the customer's name and the business."""

    @property
    def customer_name(self) -> str: ...
    @property
    def business_name(self) -> str: ...


def _email(
    kind: str,
    appointment_id: str | None,
    recipient: str,
    context: _Addressed,
    subject: str,
    values: dict[str, Any],
    attachments: tuple[Attachment, ...] = (),
) -> Email:
    """A message to the customer at ``recipient`` from the context's business, both
    bodies from the kind's templates."""
    return Email(
        kind=kind,
        appointment_id=appointment_id,
        recipient=recipient,
        recipient_name=context.customer_name,
        sender_name=context.business_name,
        subject=subject,
        text=_templates.get_template(f"{kind}.txt").render(values),
        html=_templates.get_template(f"{kind}.html").render(values),
        attachments=attachments,
    )


def _one_line(text: str) -> str:
    """Names go into headers: no line breaks (the email library refuses them anyway)."""
    return " ".join(text.split())


def to_message(email: Email, *, sender_address: str, event_id: str, now: datetime) -> EmailMessage:
    """The MIME message: text and HTML alternatives, then the attachments.

    The Message-ID is the same on every attempt of the same event, so a duplicate that
    at-least-once delivery lets through is recognisable (and mail clients fold it).
    """
    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((_one_line(email.sender_name), sender_address))
    message["To"] = formataddr((_one_line(email.recipient_name), email.recipient))
    message["Subject"] = _one_line(email.subject)
    message["Date"] = format_datetime(now)
    domain = Address(addr_spec=sender_address).domain or "slotbook"
    message["Message-ID"] = f"<{event_id}.{email.kind}@{domain}>"
    message["X-Slotbook-Event-Id"] = event_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    for attachment in email.attachments:
        message.add_attachment(
            attachment.data,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
            params=attachment.params,
        )
    return message
