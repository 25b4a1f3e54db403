"""Booking: plan the lines, lock what the decision depends on, decide by the rules, write.

``planning`` (before any lock), ``decisions`` (under the locks), ``commands`` (the
changes), ``queries`` (reading back), ``errors`` (the refusals), ``context`` (who and when).
"""

from slotbook.booking.repository import Actor
from slotbook.booking.service.commands import (
    change_party_size,
    create_appointment,
    create_idempotent,
    reschedule,
    service_changed,
    transition,
)
from slotbook.booking.service.context import BookingContext
from slotbook.booking.service.errors import (
    CONFLICT_DETAIL,
    AlreadyBooked,
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
from slotbook.booking.service.waitlist import (
    cancel_entry,
    find_entry,
    get_entry,
    join_waitlist,
    list_entries,
)

__all__ = [
    "CONFLICT_DETAIL",
    "Actor",
    "AlreadyBooked",
    "BookingConflict",
    "BookingContext",
    "CapacityReached",
    "InvalidTransition",
    "SlotTaken",
    "StaffBusy",
    "StaffUnavailable",
    "cancel_entry",
    "capacity_warnings",
    "change_party_size",
    "create_appointment",
    "create_idempotent",
    "find_entry",
    "get_appointment",
    "get_entry",
    "history",
    "join_waitlist",
    "list_appointments",
    "list_entries",
    "reschedule",
    "service_changed",
    "transition",
]
