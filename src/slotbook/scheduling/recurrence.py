"""Class schedules' recurrence: RFC 5545 rules, read by python-dateutil.

A rule names the dates a class runs on; the time of day is the schedule's own local
start time, so a weekly 18:00 class stays at 18:00 on the wall clock across DST changes
(the instant is worked out per date, in the outlet's zone).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from dateutil.rrule import rrule, rrulestr

from slotbook.scheduling.rules import WEEKDAYS

DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Finer frequencies would run a class several times a day: a schedule has one start time.
ALLOWED_FREQUENCIES = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
TIME_PARTS = frozenset({"BYHOUR", "BYMINUTE", "BYSECOND", "DTSTART", "TZID"})


class InvalidRule(ValueError):
    """A recurrence rule that is not RFC 5545, or not one a class schedule can run."""


def weekly_rule(days: Sequence[str], interval: int = 1) -> str:
    """The RFC 5545 rule of a class on these weekdays (``monday``...), every ``interval``
    weeks."""
    codes = [DAY_CODES[WEEKDAYS.index(day)] for day in WEEKDAYS if day in set(days)]
    rule = f"FREQ=WEEKLY;BYDAY={','.join(codes)}"
    return rule if interval == 1 else f"{rule};INTERVAL={interval}"


def weekly_days(rule: str) -> list[str] | None:
    """The weekdays of a plain weekly rule (``FREQ=WEEKLY;BYDAY=...``), else None."""
    parts = _parts(rule)
    if set(parts) != {"FREQ", "BYDAY"} or parts["FREQ"] != "WEEKLY":
        return None
    codes = parts["BYDAY"].split(",")
    if any(code not in DAY_CODES for code in codes):
        return None
    return [WEEKDAYS[DAY_CODES.index(code)] for code in DAY_CODES if code in codes]


def _parts(rule: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for piece in rule.strip().upper().removeprefix("RRULE:").split(";"):
        name, sep, value = piece.partition("=")
        if not sep or not name or not value:
            raise InvalidRule(f"{piece!r} is not NAME=VALUE")
        parts[name] = value
    return parts


def normalise(rule: str) -> str:
    """The rule checked and upper-cased; InvalidRule says why it cannot be used."""
    parts = _parts(rule)
    if parts.get("FREQ") not in ALLOWED_FREQUENCIES:
        raise InvalidRule("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    if TIME_PARTS & set(parts):
        raise InvalidRule("the time of day is the schedule's start_time, not part of the rule")
    text = ";".join(f"{name}={value}" for name, value in parts.items())
    try:
        _expand(text, date(2000, 1, 1))
    except (ValueError, TypeError) as exc:
        raise InvalidRule(str(exc)) from exc
    return text


def _expand(rule: str, first: date) -> rrule:
    parsed = rrulestr(rule, dtstart=datetime.combine(first, time()))
    if not isinstance(parsed, rrule):
        raise InvalidRule("one RRULE, not a set")
    return parsed


def dates(rule: str, first: date, last: date | None, start: date, end: date) -> list[date]:
    """The dates the rule names from ``first`` (its anchor), within [start, end] and not
    after ``last``."""
    low = max(first, start)
    high = end if last is None else min(last, end)
    if high < low:
        return []
    found = _expand(rule, first).between(
        datetime.combine(low, time()), datetime.combine(high, time()), inc=True
    )
    return [moment.date() for moment in found]


def horizon(today: date, days: int) -> date:
    """The last date sessions are laid out to, ``days`` ahead."""
    return today + timedelta(days=days)
