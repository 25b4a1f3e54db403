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


REFUSALS: dict[rules.Reason, type[BookingConflict]] = {
    rules.Reason.STAFF_UNAVAILABLE: StaffUnavailable,
    rules.Reason.STAFF_BUSY: StaffBusy,
    rules.Reason.SLOT_TAKEN: SlotTaken,
    rules.Reason.CAPACITY_REACHED: CapacityReached,
}


class InvalidTransition(Conflict):
    code = "invalid_transition"
