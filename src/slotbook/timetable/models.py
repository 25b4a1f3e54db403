"""The timetable's tables live in the catalog (``ClassSchedule``, ``ClassSession``,
``ClassSessionEvent``): booking reads a staff member's sessions in every decision, and
booking lies below this feature."""

from slotbook.catalog.models import ClassSchedule, ClassSession, ClassSessionEvent

__all__ = ["ClassSchedule", "ClassSession", "ClassSessionEvent"]
