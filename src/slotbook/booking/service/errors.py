"""The refusals booking answers with: each a status, a stable code and the brief's text."""

from __future__ import annotations

from slotbook.errors import Conflict
from slotbook.scheduling import rules

CONFLICT_DETAIL = "Time slot conflicts with existing appointments or capacity limit reached"


class BookingConflict(Conflict):
    default_detail = CONFLICT_DETAIL


class StaffUnavailable(BookingConflict):
    code = "staff_unavailable"


class StaffBusy(BookingConflict):
    code = "staff_busy"


class SlotTaken(BookingConflict):
    code = "slot_taken"


class CapacityReached(BookingConflict):
    code = "capacity_reached"


class NotScheduled(Conflict):
    """A timetable class runs only at its scheduled sessions."""

    code = "not_scheduled"
    default_detail = "The class does not run at that time: book one of its scheduled sessions"


class AlreadyBooked(Conflict):
    """One place per customer per session: a larger party is a change of party size."""

    code = "already_booked"
    default_detail = "The customer already holds a place in this session"


class AlreadyWaiting(Conflict):
    code = "already_waiting"
    default_detail = "The customer is already on the waitlist for this session"


class SpotsAvailable(Conflict):
    code = "spots_available"
    default_detail = "The session has room for this party; book it instead"


class WaitlistFull(Conflict):
    code = "waitlist_full"
    default_detail = "The waitlist for this session is full"


REFUSALS: dict[rules.Reason, type[Conflict]] = {
    rules.Reason.NOT_SCHEDULED: NotScheduled,
    rules.Reason.STAFF_UNAVAILABLE: StaffUnavailable,
    rules.Reason.STAFF_BUSY: StaffBusy,
    rules.Reason.ALREADY_BOOKED: AlreadyBooked,
    rules.Reason.SLOT_TAKEN: SlotTaken,
    rules.Reason.CAPACITY_REACHED: CapacityReached,
    rules.Reason.ALREADY_WAITING: AlreadyWaiting,
    rules.Reason.SPOTS_AVAILABLE: SpotsAvailable,
    rules.Reason.WAITLIST_FULL: WaitlistFull,
}


class InvalidTransition(Conflict):
    code = "invalid_transition"
