"""The class timetable: recurring class schedules, their dated sessions (the only times a
timetable class runs), changes to one session or to a schedule from a date on, and
series bookings."""
