"""The .ics attached to booking emails: one calendar entry per appointment.

Its UID is the appointment's, so a calendar that imported the confirmation updates that
entry when the move or the cancellation arrives (SEQUENCE counts the versions).
"""

from __future__ import annotations

from datetime import datetime

import icalendar

PRODID = "-//Slotbook//Slotbook bookings//EN"


def appointment_uid(appointment_id: str) -> str:
    return f"{appointment_id}@slotbook"


def booking_calendar(
    *,
    appointment_id: str,
    summary: str,
    starts_at: datetime,
    ends_at: datetime,
    stamp: datetime,
    sequence: int,
    location: str,
    description: str,
    url: str,
    status: str = "CONFIRMED",
) -> bytes:
    """A VCALENDAR with the appointment's one VEVENT, times as UTC instants."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = icalendar.Event()
    entry.add("uid", appointment_uid(appointment_id))
    entry.add("dtstamp", stamp)
    entry.add("dtstart", starts_at)
    entry.add("dtend", ends_at)
    entry.add("sequence", sequence)
    entry.add("summary", summary)
    entry.add("location", location)
    entry.add("description", description)
    entry.add("url", url)
    entry.add("status", status)  # CONFIRMED, TENTATIVE (pending) or CANCELLED
    calendar.add_component(entry)
    return bytes(calendar.to_ical())
