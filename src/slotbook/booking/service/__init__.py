"""Booking: plan the lines, lock what the decision depends on, decide by the rules, write.

``planning`` (before any lock), ``decisions`` (under the locks), ``commands`` (the
changes), ``queries`` (reading back), ``errors`` (the refusals), ``context`` (who and when).
"""

from slotbook.booking.repository import Actor
from slotbook.booking.service.commands import (
    create_appointment,
    create_idempotent,
    reschedule,
    transition,
)
from slotbook.booking.service.context import BookingContext
from slotbook.booking.service.errors import (
    CONFLICT_DETAIL,
    BookingConflict,
    CapacityReached,
    InvalidTransition,
    SlotTaken,
    StaffBusy,
    StaffUnavailable,
)
from slotbook.booking.service.queries import (
    capacity_warnings,
    get_appointment,
    history,
    list_appointments,
)

__all__ = [
    "CONFLICT_DETAIL",
    "Actor",
    "BookingConflict",
    "BookingContext",
    "CapacityReached",
    "InvalidTransition",
    "SlotTaken",
    "StaffBusy",
    "StaffUnavailable",
    "capacity_warnings",
    "create_appointment",
    "create_idempotent",
    "get_appointment",
    "history",
    "list_appointments",
    "reschedule",
    "transition",
]
