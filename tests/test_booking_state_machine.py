"""Random sequences of bookings, moves, status changes, party sizes and waitlist entries,
checked against a model.

A hypothesis state machine drives the API (create, with or without an Idempotency-Key,
for a party of one or more; reschedule; cancel; no-show; confirm; complete; change the
party size; join the waitlist of a session; leave it) for one small business: three staff
members with uneven working hours and some time off, a group class (capacity 3, with a
waitlist), a short group class (capacity 2, with a waitlist of at most 2), a parallel
service of capacity 1 (no waitlist) and a single-booking service whose
``max_parallel_bookings`` must be ignored. Five customers share these few spots, so
sessions fill up, customers queue and every freed spot is contested. Every request's
answer is compared with a model that applies the contract's booking, party-size and
waitlist rules on its own (not ``slotbook.scheduling.rules``): accepted exactly when the
model accepts, refused with a 409 code the model allows, 422 for the past, a staff member
who does not offer the service, a party that can never fit or a service without a
waitlist, never a 5xx. Whenever spots free up (a cancel, a no-show, a move out of a
session, a smaller party) the model promotes the waiting entries that fit, in joining
order, and the API must have promoted exactly those.

After every step the whole appointment list and the whole waitlist must equal the model,
and - independently of the model, from what the API lists - no session may be over
capacity, no staff member may be in two places, no customer may hold two places in one
session, nobody may wait for a session that has a free spot their party fits into (and
that the rules would let them book), and the waiting entries of each session must hold
the positions 1..n in the order they joined.

Hypothesis is synchronous and the test's own event loop belongs to pytest-asyncio, so the
test is a plain function that runs an app and client on a loop of its own, in a thread.
One tenant serves the whole run (signing up costs a password hash); each example starts
from a clean slate by opening a new outlet with new staff, since sessions, staff clashes
and the appointment list (filtered by outlet) are all per staff member or outlet.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import httpx
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from slotbook.app import create_app
from slotbook.clock import FixedClock
from slotbook.settings import Settings
from tests.scenarios import Studio, open_studio
from tests.support import CONFLICT_DETAIL, MONDAY, TUESDAY, Api, appointment_body

T = TypeVar("T")

# The clock fixture stands at 2026-12-01 08:00 UTC; Europe/London is on UTC in December,
# so local wall-clock minutes and UTC minutes agree on every day used here.
TODAY = date(2026, 12, 1)
NOW_MINUTE = 8 * 60
DAYS = (MONDAY, TUESDAY, MONDAY, TUESDAY, "2026-12-01")  # 12-01 is today, a Tuesday
WEEKDAY = {MONDAY: "monday", TUESDAY: "tuesday", "2026-12-01": "tuesday"}
# Starts on a 30-minute grid (07:00-13:00), plus one off the grid to stagger sessions.
STARTS = (*range(7 * 60, 13 * 60 + 1, 30), 10 * 60 + 15)

OPEN = frozenset({"pending", "confirmed"})
ACTIVE = frozenset({"pending", "confirmed", "completed"})
TRANSITIONS = {  # target status -> (URL action, statuses it may leave)
    "cancelled": ("cancel", OPEN),
    "no_show": ("no-show", OPEN),
    "completed": ("complete", OPEN),
    "confirmed": ("confirm", frozenset({"pending"})),
}
# Most bookings go where sessions fill up and staff are busy: Monday and Tuesday mornings.
BUSY_DAYS = (MONDAY, TUESDAY)
BUSY_STARTS = (10 * 60, 9 * 60, 9 * 60 + 30, 10 * 60 + 30, 11 * 60)
EXAMPLES = 30
STEPS = 25
CUSTOMERS = 5  # more than any session's spots
# A few sessions most bookings and joins aim at, so they fill up and grow queues:
# (staff, service, day, start).
HOT = ((0, "yoga", MONDAY, 10 * 60), (2, "pilates", MONDAY, 10 * 60), (1, "yoga", TUESDAY, 10 * 60))
PARTIES = (1, 1, 2, 3)  # mostly one person; sometimes a party that needs several spots


@dataclass(frozen=True)
class ServiceSpec:
    key: str
    parallel: bool
    capacity: int  # as sent in max_parallel_bookings
    duration: int
    waitlist: bool = False
    waitlist_limit: int | None = None

    @property
    def effective_capacity(self) -> int:
        return self.capacity if self.parallel else 1

    def seats(self, party: int) -> bool:
        """Whether a party of this size can ever fit (else 422 naming party_size)."""
        return party <= self.effective_capacity


@dataclass(frozen=True)
class StaffSpec:
    name: str
    services: frozenset[str]
    hours: dict[str, list[tuple[int, int]]]  # weekday -> [(start, end) minutes]
    time_off: tuple[tuple[str, int, int], ...] = ()  # (date, start, end) local minutes

    def works(self, day: str, start: int, end: int) -> bool:
        inside = any(a <= start and end <= b for a, b in self.hours.get(WEEKDAY[day], ()))
        away = any(d == day and a < end and start < b for d, a, b in self.time_off)
        return inside and not away


SERVICES = {
    spec.key: spec
    for spec in (
        ServiceSpec("yoga", parallel=True, capacity=3, duration=60, waitlist=True),
        ServiceSpec(
            "pilates", parallel=True, capacity=2, duration=30, waitlist=True, waitlist_limit=2
        ),
        ServiceSpec("private", parallel=True, capacity=1, duration=60),
        # Not parallel: its max_parallel_bookings of 3 must not count (capacity is 1).
        ServiceSpec("massage", parallel=False, capacity=3, duration=30),
    )
}
STAFF = (
    StaffSpec(
        "Ana",
        frozenset({"yoga", "pilates", "massage"}),
        {"monday": [(9 * 60, 13 * 60)], "tuesday": [(8 * 60, 12 * 60)]},
    ),
    StaffSpec(
        "Ben",
        frozenset({"yoga", "massage", "private"}),
        {"monday": [(8 * 60, 9 * 60 + 30), (10 * 60, 13 * 60)], "tuesday": [(9 * 60, 13 * 60)]},
        time_off=((TUESDAY, 11 * 60, 11 * 60 + 30),),
    ),
    StaffSpec(
        "Cleo",
        frozenset({"pilates", "private"}),
        {"monday": [(9 * 60, 12 * 60)]},
    ),
)
OFFERED = [(i, key) for i, member in enumerate(STAFF) for key in sorted(member.services)]
ANY_LINE = st.one_of(
    st.sampled_from(OFFERED),
    st.tuples(st.integers(0, len(STAFF) - 1), st.sampled_from(sorted(SERVICES))),
)


def clock_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}:00"


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def in_past(day: str, start: int) -> bool:
    return (date.fromisoformat(day), start) < (TODAY, NOW_MINUTE)


@dataclass(frozen=True)
class Line:
    staff: int
    service: str
    start: int
    end: int


@dataclass
class Appointment:
    id: str
    status: str
    day: str
    lines: list[Line] = field(default_factory=list)
    customer: int = 0
    party: int = 1


@dataclass
class Entry:
    """A waitlist entry: ``customer`` waits for ``party`` spots of one session."""

    id: str
    customer: int
    day: str
    line: Line
    party: int
    joined: int  # the order it joined in (a counter of the machine's)
    status: str = "waiting"
    appointment_id: str | None = None

    @property
    def session(self) -> tuple[str, Line]:
        return self.day, self.line


def planned(day: str, start: int, shape: list[tuple[int, str]]) -> list[Line]:
    """Back-to-back lines, in the order given."""
    lines, cursor = [], start
    for staff, service in shape:
        end = cursor + SERVICES[service].duration
        lines.append(Line(staff, service, cursor, end))
        cursor = end
    return lines


class LoopThread:
    """An event loop of the test's own, in a thread: hypothesis steps call into it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    def close(self) -> None:
        self.run(self.loop.shutdown_asyncgens())
        self.run(self.loop.shutdown_default_executor())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


class Harness:
    """One tenant for the whole run: its services and customers are shared by the examples."""

    def __init__(self, loop: LoopThread, client: httpx.AsyncClient) -> None:
        self.loop = loop
        self.api = Api(client)
        self.studio: Studio | None = None
        self.counter = itertools.count(1)

    def call(
        self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        response = self.loop.run(self.api.request(method, path, json, headers=headers))
        assert response.status_code < 500, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response

    def set_up_tenant(self) -> None:
        self.studio = self.loop.run(self._open_studio())

    async def _open_studio(self) -> Studio:
        studio = await open_studio(self.api, "Machine Studio")
        for spec in SERVICES.values():
            waitlist = (
                {"waitlist_enabled": True, "waitlist_limit": spec.waitlist_limit}
                if spec.waitlist
                else {}
            )
            await studio.offer(
                spec.key.title(),
                key=spec.key,
                parallel=spec.parallel,
                capacity=spec.capacity,
                duration=spec.duration,
                **waitlist,
            )
        for i in range(CUSTOMERS):
            await studio.customer(f"Customer {i}")
        return studio


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: expected {status}, "
        f"got {response.status_code}: {response.text}"
    )
    return response.json()


# The 409s of the party-size and waitlist rules carry details of their own.
OWN_DETAILS = {
    "already_booked": "The customer already holds a place in this session",
    "already_waiting": "The customer is already on the waitlist for this session",
    "spots_available": "The session has room for this party; book it instead",
}


def assert_refused(response: httpx.Response, allowed_codes: set[str]) -> None:
    """A 409 from the rules: a code the model allows, with the brief's detail (or the
    contract's own detail for the customer's place and the waitlist)."""
    body = expect(response, 409)
    assert body.get("code") in allowed_codes, (
        f"code {body.get('code')}, model allows {allowed_codes}: {body}"
    )
    if body["code"] in OWN_DETAILS:
        assert body.get("detail") == OWN_DETAILS[body["code"]], body
    elif body["code"] != "waitlist_full":  # the contract gives that one no text
        assert body.get("detail") == CONFLICT_DETAIL, body


class BookingMachine(RuleBasedStateMachine):
    appointments = Bundle("appointments")

    def __init__(self, harness: Harness) -> None:
        super().__init__()
        self.h = harness
        assert harness.studio is not None, "set_up_tenant() first"
        self.services = harness.studio.services  # by SERVICES key
        self.customers = list(harness.studio.customers.values())
        self.outlet: dict[str, Any] = {}
        self.staff: list[dict[str, Any]] = []  # in STAFF's order
        self.model: dict[str, Appointment] = {}
        self.waitlist: dict[str, Entry] = {}
        self.joins = itertools.count(1)

    def call(
        self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.h.call(method, path, json, headers)

    @initialize(
        target=appointments,
        crowd=st.sampled_from((None, *HOT)),
        order=st.permutations(range(CUSTOMERS)),
        party=st.sampled_from(PARTIES),
        parties=st.lists(st.sampled_from(PARTIES), min_size=1, max_size=3),
    )
    def open_outlet(
        self,
        crowd: tuple[int, str, str, int] | None,
        order: list[int],
        party: int,
        parties: list[int],
    ) -> Any:
        """A clean slate per example: a new outlet and staff (sessions are per staff
        member); mostly with one of the sessions everyone wants full and a queue for it,
        so that every example has spots to hand out."""
        n = next(self.h.counter)
        api, run = self.h.api, self.h.loop.run
        self.outlet = run(api.outlet(f"Studio {n}", timezone="Europe/London"))
        for member in STAFF:
            hours = {
                day: [{"start": hhmm(a), "end": hhmm(b)} for a, b in intervals]
                for day, intervals in member.hours.items()
            }
            offered = [self.services[key] for key in sorted(member.services)]
            hired = run(api.staff(f"{member.name} {n}", self.outlet, offered, hours))
            self.staff.append(hired)
            for day, a, b in member.time_off:
                run(api.time_off(hired, f"{day}T{hhmm(a)}", f"{day}T{hhmm(b)}"))
        if crowd is None:
            return multiple()
        return self.queue_hot(crowd, order, party, parties)

    # The model's view of the rules (the contract's "Booking rules", "Party size" and
    # "Waitlist", written afresh)

    def refusal_codes(
        self,
        day: str,
        lines: list[Line],
        exclude: str | None,
        party: int = 1,
        customer: int | None = None,
    ) -> set[str]:
        """Every 409 code some line of this booking deserves; empty when it books."""
        codes: set[str] = set()
        for line in lines:
            codes |= self.line_codes(day, line, exclude, party, customer)
        return codes

    def same_session_spots(self, day: str, line: Line, exclude: str | None) -> int:
        """Spots taken in the line's very session by active appointments (not ``exclude``)."""
        return sum(
            party
            for other_day, other, party, _ in self.active_lines(exclude)
            if other_day == day
            and other.staff == line.staff
            and other.service == line.service
            and (other.start, other.end) == (line.start, line.end)
        )

    def line_codes(
        self,
        day: str,
        line: Line,
        exclude: str | None,
        party: int = 1,
        customer: int | None = None,
    ) -> set[str]:
        """The code a line deserves, in the contract's order: the staff member's time
        (rules 2-3), then the customer's own place, then the session's spots."""
        spec = SERVICES[line.service]
        staff_codes: set[str] = set()
        holds = False
        taken = False  # a single-booking service's slot
        if not STAFF[line.staff].works(day, line.start, line.end):
            staff_codes.add("staff_unavailable")
        for other_day, other, _, holder in self.active_lines(exclude):
            if other_day != day or other.staff != line.staff:
                continue
            if not (other.start < line.end and line.start < other.end):
                continue
            same = other.service == line.service and (other.start, other.end) == (
                line.start,
                line.end,
            )
            if same and customer is not None and holder == customer:
                holds = True
            if other.service != line.service:
                staff_codes.add("staff_busy")
            elif not spec.parallel:
                taken = True
            elif not same:
                staff_codes.add("staff_busy")
        if staff_codes:
            return staff_codes
        if holds:
            return {"already_booked"}
        if taken:
            return {"slot_taken"}
        if spec.parallel and self.same_session_spots(day, line, exclude) + party > spec.capacity:
            return {"capacity_reached"}
        return set()

    def active_lines(self, exclude: str | None = None) -> list[tuple[str, Line, int, int]]:
        """(day, line, party, customer) of every active appointment's lines."""
        return [
            (appointment.day, line, appointment.party, appointment.customer)
            for appointment in self.model.values()
            if appointment.status in ACTIVE and appointment.id != exclude
            for line in appointment.lines
        ]

    def check_capacity_body(
        self,
        response: httpx.Response,
        day: str,
        lines: list[Line],
        exclude: str | None,
        party: int = 1,
        customer: int | None = None,
    ) -> None:
        body = response.json()
        if body.get("code") != "capacity_reached":
            return
        full = {
            (self.same_session_spots(day, line, exclude), SERVICES[line.service].capacity)
            for line in lines
            if "capacity_reached" in self.line_codes(day, line, exclude, party, customer)
        }
        assert (body.get("current_bookings"), body.get("max_capacity")) in full, (body, full)

    def party_refused(self, lines: list[Line], party: int) -> bool:
        """A party that can never fit some line's service (422 naming party_size)."""
        return any(not SERVICES[line.service].seats(party) for line in lines)

    def waiting_in(self, day: str, line: Line) -> list[Entry]:
        """The session's waiting entries, in joining order."""
        return sorted(
            (
                e
                for e in self.waitlist.values()
                if e.status == "waiting" and e.session == (day, line)
            ),
            key=lambda e: e.joined,
        )

    def stop_waiting(self, customer: int, day: str, lines: list[Line]) -> None:
        """The customer got a place in these sessions another way: their entries close."""
        sessions = {(day, line) for line in lines}
        for entry in self.waitlist.values():
            mine = entry.customer == customer and (entry.day, entry.line) in sessions
            if entry.status == "waiting" and mine:
                entry.status = "cancelled"

    def promote(self, day: str, lines: list[Line]) -> list[str]:
        """Spots of these sessions and the staff members' time in them freed up. The
        waiting entries of those very sessions that fit are booked, in joining order,
        each decided like its own booking. Answers the new appointments.

        The time freed may also unblock another session of the same staff member that
        overlaps it (a waiting entry the rules refused while its teacher was busy there,
        e.g. after a move to a staggered start): the contract wants such a session's
        free spots to go to its queue too, but pins no order between overlapping
        sessions. So for those the API's answer is taken when the rules allow it, and
        the invariant checks that nobody who fits is left waiting."""
        if in_past(day, lines[0].start):
            return []
        created: list[str] = []
        for line in lines:
            for entry in self.waiting_in(day, line):
                # Decided against the model as it stands, with those promoted before.
                if not self.line_codes(day, line, None, entry.party, entry.customer):
                    created.append(self.promoted(entry))
                # else: it does not fit (or the rules refuse it) and keeps its place
        overlapping = sorted(
            (
                entry
                for entry in self.waitlist.values()
                if entry.status == "waiting"
                and entry.day == day
                and entry.line not in lines
                and any(
                    entry.line.staff == line.staff
                    and entry.line.start < line.end
                    and line.start < entry.line.end
                    for line in lines
                )
            ),
            key=lambda e: (e.line.start, e.joined),
        )
        for entry in overlapping:
            read = expect(self.call("GET", f"/waitlist/{entry.id}"), 200)
            if read["status"] == "waiting":
                continue
            assert not self.line_codes(day, entry.line, None, entry.party, entry.customer), (
                f"{entry} promoted although the rules refuse it: {read}"
            )
            created.append(self.promoted(entry, read))
        return created

    def promoted(self, entry: Entry, read: dict[str, Any] | None = None) -> str:
        """The model's entry became a confirmed appointment: read it from the API, check
        it, and keep the appointment in the model. Answers its id."""
        if read is None:
            read = expect(self.call("GET", f"/waitlist/{entry.id}"), 200)
        assert (read["status"], read["position"]) == ("promoted", None), (
            f"the model promotes {entry}; the API has {read}"
        )
        assert read["appointment_id"], read
        entry.status, entry.appointment_id = "promoted", read["appointment_id"]
        appointment = Appointment(
            read["appointment_id"],
            "confirmed",
            entry.day,
            [entry.line],
            entry.customer,
            entry.party,
        )
        self.model[appointment.id] = appointment
        history = expect(self.call("GET", f"/appointments/{appointment.id}/history"), 200)
        assert [(e["type"], e["data"].get("waitlist_entry_id")) for e in history["items"]] == [
            ("created", entry.id)
        ], history
        return appointment.id

    def assert_matches(self, body: dict[str, Any], appointment: Appointment) -> None:
        assert body["id"] == appointment.id
        assert body["status"] == appointment.status, (body, appointment)
        assert body["appointment_date"] == appointment.day
        assert body["start_time"] == clock_text(appointment.lines[0].start)
        assert body["end_time"] == clock_text(appointment.lines[-1].end)
        assert body["customer_id"] == self.customers[appointment.customer]["id"], body
        assert body["party_size"] == appointment.party, (body, appointment)
        got = [
            (s["staff_id"], s["service_id"], s["start_time"], s["end_time"])
            for s in body["services"]
        ]
        want = [
            (
                self.staff[line.staff]["id"],
                self.services[line.service]["id"],
                clock_text(line.start),
                clock_text(line.end),
            )
            for line in appointment.lines
        ]
        assert got == want, (got, want)

    # Rules: booking

    @rule(
        target=appointments,
        line=st.sampled_from(OFFERED),
        day=st.sampled_from(BUSY_DAYS),
        start=st.sampled_from(BUSY_STARTS),
        status=st.sampled_from(["confirmed", "pending"]),
        customer=st.integers(0, CUSTOMERS - 1),
        idempotent=st.sampled_from([False, False, True]),
        party=st.sampled_from(PARTIES),
    )
    def book(
        self,
        line: tuple[int, str],
        day: str,
        start: int,
        status: str,
        customer: int,
        idempotent: bool,
        party: int,
    ) -> Any:
        """One service, offered by the staff member, at a busy time: sessions fill up."""
        return self.create([line], day, start, status, customer, idempotent, party)

    @rule(
        target=appointments,
        hot=st.sampled_from(HOT),
        status=st.sampled_from(["confirmed", "pending"]),
        customer=st.integers(0, CUSTOMERS - 1),
        party=st.sampled_from(PARTIES),
    )
    def book_hot(
        self, hot: tuple[int, str, str, int], status: str, customer: int, party: int
    ) -> Any:
        """Book one of the few sessions everyone wants."""
        staff, service, day, start = hot
        return self.create([(staff, service)], day, start, status, customer, False, party)

    @rule(
        target=appointments,
        hot=st.sampled_from(HOT),
        order=st.permutations(range(CUSTOMERS)),
        party=st.sampled_from(PARTIES),
    )
    def fill_hot(self, hot: tuple[int, str, str, int], order: list[int], party: int) -> Any:
        """Customers book one of those sessions one after another until it is full (the
        first with a party)."""
        staff, service, day, start = hot
        line = planned(day, start, [(staff, service)])[0]
        return multiple(*self.fill(day, line, order, party).values())

    @rule(
        target=appointments,
        shape=st.lists(ANY_LINE, min_size=1, max_size=2),
        day=st.sampled_from(DAYS),
        start=st.sampled_from(STARTS),
        status=st.sampled_from(["confirmed", "pending"]),
        customer=st.integers(0, CUSTOMERS - 1),
        idempotent=st.sampled_from([False, False, True]),
        party=st.sampled_from((1, 1, 1, 2)),
    )
    def book_anything(
        self,
        shape: list[tuple[int, str]],
        day: str,
        start: int,
        status: str,
        customer: int,
        idempotent: bool,
        party: int,
    ) -> Any:
        """One or two services back to back, any staff, any time (today, past, off hours)."""
        return self.create(shape, day, start, status, customer, idempotent, party)

    def create(
        self,
        shape: list[tuple[int, str]],
        day: str,
        start: int,
        status: str,
        customer: int,
        idempotent: bool,
        party: int = 1,
    ) -> Any:
        lines = planned(day, start, shape)
        extra = {"party_size": party} if party != 1 else {}  # omitted means 1
        body = appointment_body(
            self.outlet,
            self.customers[customer],
            [(self.services[line.service], self.staff[line.staff]) for line in lines],
            date=day,
            start=hhmm(start),
            status=status,
            **extra,
        )
        headers = {"Idempotency-Key": uuid.uuid4().hex} if idempotent else None
        response = self.call("POST", "/appointments", body, headers)
        if idempotent:  # the repeat gets the first answer and books nothing more
            repeat = self.call("POST", "/appointments", body, headers)
            assert (repeat.status_code, repeat.json()) == (response.status_code, response.json())

        if any(line.service not in STAFF[line.staff].services for line in lines):
            expect(response, 422)
            return multiple()
        if self.party_refused(lines, party):
            assert "party_size" in response.text, response.text
            expect(response, 422)
            return multiple()
        if in_past(day, start):
            expect(response, 422)
            return multiple()
        codes = self.refusal_codes(day, lines, None, party, customer)
        if codes:
            assert_refused(response, codes)
            self.check_capacity_body(response, day, lines, None, party, customer)
            return multiple()
        created = expect(response, 201)
        appointment = Appointment(created["id"], status, day, lines, customer, party)
        self.assert_matches(created, appointment)
        self.model[appointment.id] = appointment
        self.stop_waiting(customer, day, lines)
        return appointment.id

    @rule(
        target=appointments,
        appointment_id=appointments,
        status=st.sampled_from(["confirmed", "pending"]),
        customer=st.integers(0, CUSTOMERS - 1),
        party=st.sampled_from(PARTIES),
    )
    def join_session(self, appointment_id: str, status: str, customer: int, party: int) -> Any:
        """Book into an existing booking's session: sessions fill up and overflow."""
        appointment = self.model[appointment_id]
        first = appointment.lines[0]
        shape = [(first.staff, first.service)]
        return self.create(shape, appointment.day, first.start, status, customer, False, party)

    @rule(
        target=appointments,
        appointment_id=appointments,
        offset=st.sampled_from([30, -30, 0, 15]),
        pick=st.integers(0, 2),
    )
    def book_near(self, appointment_id: str, offset: int, pick: int) -> Any:
        """Stagger an existing booking (same service, shifted) or clash with it (another)."""
        appointment = self.model[appointment_id]
        first = appointment.lines[0]
        offered = sorted(STAFF[first.staff].services)
        service = offered[pick % len(offered)]
        shape = [(first.staff, service)]
        return self.create(shape, appointment.day, first.start + offset, "confirmed", 0, False)

    # Rules: changing a booking (each change that frees spots promotes)

    @rule(
        target=appointments,
        appointment_id=appointments,
        how=st.sampled_from(["anywhere", "in_place", "shift"]),
        day=st.sampled_from(DAYS),
        start=st.one_of(st.sampled_from(BUSY_STARTS), st.sampled_from(STARTS)),
        shift=st.sampled_from([30, -30, 15]),
    )
    def reschedule(self, appointment_id: str, how: str, day: str, start: int, shift: int) -> Any:
        """Move anywhere, onto its own slot (it must not count itself) or slide by a bit."""
        appointment = self.model[appointment_id]
        if how != "anywhere":
            day = appointment.day
            start = appointment.lines[0].start + (shift if how == "shift" else 0)
        shape = [(line.staff, line.service) for line in appointment.lines]
        lines = planned(day, start, shape)
        response = self.call(
            "PUT",
            f"/appointments/{appointment_id}/reschedule",
            {"new_date": day, "new_start_time": hhmm(start)},
        )
        if appointment.status not in OPEN:
            # Only open appointments move; whether a past start is 422 first is not pinned.
            assert response.status_code in ({409, 422} if in_past(day, start) else {409})
            return multiple()
        if in_past(day, start):
            expect(response, 422)
            return multiple()
        party, customer = appointment.party, appointment.customer
        codes = self.refusal_codes(day, lines, appointment_id, party, customer)
        if codes:
            assert_refused(response, codes)
            self.check_capacity_body(response, day, lines, appointment_id, party, customer)
            return multiple()
        moved = expect(response, 200)
        left = (appointment.day, appointment.lines)
        appointment.day, appointment.lines = day, lines
        self.assert_matches(moved, appointment)
        if (day, start) == (left[0], left[1][0].start):
            return multiple()  # onto its own slot: nothing freed, nothing taken
        self.stop_waiting(customer, day, lines)
        return multiple(*self.promote(*left))

    def transition(self, appointment_id: str, target: str) -> list[str]:
        appointment = self.model[appointment_id]
        action, leaves = TRANSITIONS[target]
        response = self.call("PUT", f"/appointments/{appointment_id}/{action}")
        if appointment.status == target:  # a repeat: 200, nothing changes
            self.assert_matches(expect(response, 200), appointment)
        elif appointment.status in leaves:
            appointment.status = target
            self.assert_matches(expect(response, 200), appointment)
            if target not in ACTIVE:  # a cancel or no-show frees its spots
                return self.promote(appointment.day, appointment.lines)
        else:
            expect(response, 409)
        return []

    @rule(target=appointments, appointment_id=appointments, to=st.sampled_from(list(TRANSITIONS)))
    def change_status(self, appointment_id: str, to: str) -> Any:
        """Cancel, no-show, complete or confirm, whatever the appointment's status."""
        return multiple(*self.transition(appointment_id, to))

    @precondition(lambda self: any(a.status in OPEN for a in self.model.values()))
    @rule(
        target=appointments,
        data=st.data(),
        how=st.sampled_from(["cancelled", "no_show", "smaller", "move"]),
    )
    def free_spots(self, data: st.DataObject, how: str) -> Any:
        """Any open appointment (a promoted one too) frees its spots: cancelled, a
        no-show, a smaller party or moved an hour later. Waiting customers move up."""
        # In the order the model learnt of them (ids are the server's, random: drawing
        # from them sorted would make the same draw pick another appointment next time).
        appointment_id = data.draw(
            st.sampled_from([a.id for a in self.model.values() if a.status in OPEN])
        )
        appointment = self.model[appointment_id]
        if how == "smaller" and appointment.party > 1:
            return self.change_party_size(appointment_id, appointment.party - 1)
        if how == "move":
            later = appointment.lines[0].start + 60
            return self.reschedule(appointment_id, "anywhere", appointment.day, later, 0)
        return multiple(
            *self.transition(appointment_id, "no_show" if how == "no_show" else "cancelled")
        )

    @rule(target=appointments, appointment_id=appointments, party=st.integers(1, 4))
    def change_party_size(self, appointment_id: str, party: int) -> Any:
        """More or fewer people on a booking: a smaller party frees spots for the queue."""
        appointment = self.model[appointment_id]
        response = self.call(
            "PUT", f"/appointments/{appointment_id}/party-size", {"party_size": party}
        )
        if self.party_refused(appointment.lines, party):
            assert "party_size" in response.text, response.text
            expect(response, 422)
            return multiple()
        if appointment.status not in OPEN:
            assert expect(response, 409)["code"] == "invalid_transition"
            return multiple()
        if party > appointment.party:
            day, lines = appointment.day, appointment.lines
            codes = self.refusal_codes(day, lines, appointment_id, party, appointment.customer)
            if codes:
                assert_refused(response, codes)
                self.check_capacity_body(
                    response, day, lines, appointment_id, party, appointment.customer
                )
                return multiple()
        before, appointment.party = appointment.party, party
        self.assert_matches(expect(response, 200), appointment)
        if party < before:
            return multiple(*self.promote(appointment.day, appointment.lines))
        return multiple()

    # Rules: the waitlist

    @rule(
        appointment_id=appointments,
        pick=st.integers(0, 1),
        customer=st.integers(0, CUSTOMERS - 1),
        party=st.sampled_from(PARTIES),
    )
    def wait_for_session(self, appointment_id: str, pick: int, customer: int, party: int) -> None:
        """Queue for the session of an existing booking: often full, sometimes not."""
        appointment = self.model[appointment_id]
        line = appointment.lines[pick % len(appointment.lines)]
        self.join(appointment.day, line, customer, party)

    @rule(
        hot=st.sampled_from(HOT),
        customer=st.integers(0, CUSTOMERS - 1),
        party=st.sampled_from(PARTIES),
    )
    def wait_hot(self, hot: tuple[int, str, str, int], customer: int, party: int) -> None:
        """Queue for one of the few sessions everyone wants."""
        staff, service, day, start = hot
        self.join(day, planned(day, start, [(staff, service)])[0], customer, party)

    @rule(
        target=appointments,
        hot=st.sampled_from(HOT),
        order=st.permutations(range(CUSTOMERS)),
        party=st.sampled_from(PARTIES),
        parties=st.lists(st.sampled_from(PARTIES), min_size=1, max_size=3),
    )
    def queue_hot(
        self, hot: tuple[int, str, str, int], order: list[int], party: int, parties: list[int]
    ) -> Any:
        """One of those sessions fills up (if it has room) and other customers queue for
        it, one after another. Answers the bookings made."""
        staff, service, day, start = hot
        line = planned(day, start, [(staff, service)])[0]
        booked = self.fill(day, line, order, party)
        others = [c for c in order if c not in booked]
        for customer, size in zip(others[: len(parties)], parties[: len(others)], strict=True):
            self.join(day, line, customer, size)
        return multiple(*booked.values())

    def fill(self, day: str, line: Line, order: list[int], party: int) -> dict[int, str]:
        """Customers in ``order`` book the session until it is full (the first with
        ``party``); answers the appointments made, by customer."""
        booked: dict[int, str] = {}
        for customer in order:
            if "capacity_reached" in self.line_codes(day, line, None):
                break
            shape = [(line.staff, line.service)]
            made = self.create(shape, day, line.start, "confirmed", customer, False, party)
            if isinstance(made, str):
                booked[customer] = made
            party = 1
        return booked

    @rule(
        line=st.one_of(st.sampled_from(OFFERED), ANY_LINE),
        day=st.sampled_from((*BUSY_DAYS, *DAYS)),
        start=st.one_of(st.sampled_from(BUSY_STARTS), st.sampled_from(STARTS)),
        customer=st.integers(0, CUSTOMERS - 1),
        party=st.sampled_from(PARTIES),
    )
    def wait_anywhere(
        self, line: tuple[int, str], day: str, start: int, customer: int, party: int
    ) -> None:
        """Queue for any session: empty, past, off hours, no waitlist, not offered."""
        staff, service = line
        self.join(day, planned(day, start, [(staff, service)])[0], customer, party)

    def join(self, day: str, line: Line, customer: int, party: int) -> None:
        """Ask for a place in the session's queue; the answer must be the model's."""
        spec = SERVICES[line.service]
        body = {
            "outlet_id": self.outlet["id"],
            "customer_id": self.customers[customer]["id"],
            "service_id": self.services[line.service]["id"],
            "staff_id": self.staff[line.staff]["id"],
            "date": day,
            "start_time": hhmm(line.start),
            "party_size": party,
        }
        response = self.call("POST", "/waitlist", body)
        if not spec.waitlist:
            assert "service_id" in response.text, response.text
            expect(response, 422)
            return
        if line.service not in STAFF[line.staff].services or not spec.seats(party):
            expect(response, 422)
            return
        if in_past(day, line.start):
            expect(response, 422)
            return
        waiting = self.waiting_in(day, line)
        codes = self.line_codes(day, line, None, party, customer)
        if codes - {"capacity_reached"}:  # the staff member's time or the customer's place
            assert_refused(response, codes)
            return
        if any(e.customer == customer for e in waiting):
            assert_refused(response, {"already_waiting"})
        elif not codes:
            assert_refused(response, {"spots_available"})
        elif spec.waitlist_limit is not None and len(waiting) >= spec.waitlist_limit:
            assert_refused(response, {"waitlist_full"})
        else:
            joined = expect(response, 201)
            entry = Entry(joined["id"], customer, day, line, party, next(self.joins))
            self.waitlist[entry.id] = entry
            self.assert_entry(joined, entry)
            assert joined["position"] == len(waiting) + 1, joined

    @precondition(lambda self: bool(self.waitlist))
    @rule(data=st.data())
    def leave_waitlist(self, data: st.DataObject) -> None:
        """Leave the queue: waiting or already left is 200, promoted is 409."""
        entry_id = data.draw(st.sampled_from(list(self.waitlist)))  # in joining order
        entry = self.waitlist[entry_id]
        response = self.call("PUT", f"/waitlist/{entry_id}/cancel")
        if entry.status == "promoted":
            assert expect(response, 409)["code"] == "invalid_transition"
            return
        entry.status = "cancelled"
        left = expect(response, 200)
        self.assert_entry(left, entry)
        assert left["position"] is None

    def assert_entry(self, body: dict[str, Any], entry: Entry) -> None:
        want = {
            "id": entry.id,
            "status": entry.status,
            "customer_id": self.customers[entry.customer]["id"],
            "service_id": self.services[entry.line.service]["id"],
            "staff_id": self.staff[entry.line.staff]["id"],
            "date": entry.day,
            "start_time": clock_text(entry.line.start),
            "end_time": clock_text(entry.line.end),
            "party_size": entry.party,
            "appointment_id": entry.appointment_id,
        }
        assert {key: body.get(key) for key in want} == want, (body, entry)

    # Invariants, read back from the API after every step

    def listed(self) -> list[dict[str, Any]]:
        page = expect(
            self.call("GET", f"/appointments?outlet_id={self.outlet['id']}&limit=500"), 200
        )
        assert page["total"] == len(page["items"])
        return list(page["items"])

    def listed_waitlist(self) -> list[dict[str, Any]]:
        page = expect(self.call("GET", f"/waitlist?outlet_id={self.outlet['id']}&limit=500"), 200)
        assert page["total"] == len(page["items"])
        return list(page["items"])

    @invariant()
    def api_state_is_sound(self) -> None:
        items = self.listed()

        # The model: the same appointments, statuses, dates, lines, customers and parties.
        assert sorted(item["id"] for item in items) == sorted(self.model)
        for item in items:
            self.assert_matches(item, self.model[item["id"]])

        # Independently of the model: capacity, one place at a time per staff member, one
        # place per customer per session.
        capacity = {
            self.services[key]["id"]: spec.effective_capacity for key, spec in SERVICES.items()
        }
        parallel = {self.services[key]["id"]: spec.parallel for key, spec in SERVICES.items()}
        by_staff: dict[str, list[tuple[str, str, str, str, str]]] = defaultdict(list)
        spots: Counter[tuple[str, str, str, str, str]] = Counter()
        places: Counter[tuple[str, str, str, str, str, str]] = Counter()
        for item in items:
            if item["status"] not in ACTIVE:
                continue
            for s in item["services"]:
                line = (item["appointment_date"], s["start_time"], s["end_time"], s["service_id"])
                by_staff[s["staff_id"]].append((*line, item["id"]))
                spots[(s["staff_id"], *line)] += item["party_size"]
                places[(item["customer_id"], s["staff_id"], *line)] += 1
        for (staff_id, day, a, b, service), taken in spots.items():
            assert taken <= capacity[service], (
                f"session over capacity: staff {staff_id} {service} {day} {a}-{b}: "
                f"{taken} spots > {capacity[service]}"
            )
        for place, held in places.items():
            assert held == 1, f"customer {place[0]} holds {held} places in session {place[1:]}"
        for staff_id, lines in by_staff.items():
            for first, second in itertools.combinations(lines, 2):
                day1, a1, b1, service1, _ = first
                day2, a2, b2, service2, _ = second
                if day1 != day2 or not (a1 < b2 and a2 < b1):
                    continue
                same_session = service1 == service2 and (a1, b1) == (a2, b2)
                assert same_session and parallel[service1], (
                    f"staff {staff_id} in two places: {first} and {second}"
                )

        self.waitlist_is_sound(items, spots, places, by_staff, capacity)

    def waitlist_is_sound(
        self,
        items: list[dict[str, Any]],
        spots: Counter[tuple[str, str, str, str, str]],
        places: Counter[tuple[str, str, str, str, str, str]],
        by_staff: dict[str, list[tuple[str, str, str, str, str]]],
        capacity: dict[str, int],
    ) -> None:
        if not self.waitlist:
            # Entries come only from joins, whose answers are checked: none joined, none
            # to list (a request the machine saves while the example has no queue).
            return
        listed = self.listed_waitlist()

        # The model: the same entries, statuses, promotions and positions.
        assert sorted(e["id"] for e in listed) == sorted(self.waitlist)
        for body in listed:
            entry = self.waitlist[body["id"]]
            self.assert_entry(body, entry)
            if entry.status == "waiting":
                ahead = self.waiting_in(*entry.session)
                assert body["position"] == ahead.index(entry) + 1, (body, entry)
            else:
                assert body["position"] is None, body

        # Independently of the model, from what the API lists.
        appointments = {item["id"]: item for item in items}
        queues: dict[tuple[str, str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for body in listed:
            session = (
                body["staff_id"],
                body["date"],
                body["start_time"],
                body["end_time"],
                body["service_id"],
            )
            if body["status"] == "promoted":  # it became an appointment of its customer
                made = appointments.get(body["appointment_id"])
                assert made is not None, f"promoted entry {body} has no appointment"
                assert made["customer_id"] == body["customer_id"], (made, body)
            if body["status"] != "waiting":
                continue
            queues[session].append(body)
            staff_id, day, a, b, service = session
            assert not places[(body["customer_id"], *session)], (
                f"entry {body['id']} waits for a session its customer holds a place in"
            )
            if in_past(day, int(a[:2]) * 60 + int(a[3:5])):
                continue  # a started session promotes nobody (its entries read expired)
            busy = any(
                day == other_day
                and a < other_b
                and other_a < b
                and (other_a, other_b, s) != (a, b, service)
                for other_day, other_a, other_b, s, _ in by_staff.get(staff_id, ())
            )
            free = capacity[service] - spots[session]
            assert busy or free < body["party_size"], (
                f"entry {body['id']} (party {body['party_size']}) waits while {free} spots "
                f"of its session {session} are free"
            )
        for session, queue in queues.items():
            # Listed in promotion order: the order they joined, positions 1..n.
            joined = [self.waitlist[body["id"]].joined for body in queue]
            assert joined == sorted(joined), f"queue of {session} not in joining order"
            assert [body["position"] for body in queue] == list(range(1, len(queue) + 1)), (
                f"queue of {session}: positions {[body['position'] for body in queue]}"
            )


def test_random_booking_sequences_keep_sessions_and_staff_sound(
    settings: Settings, clock: FixedClock
) -> None:
    loop = LoopThread()
    app = create_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://test")
    harness = Harness(loop, client)
    try:
        harness.set_up_tenant()
        run_state_machine_as_test(
            lambda: BookingMachine(harness),
            settings=settings_for_machine(),
        )
    finally:
        loop.run(client.aclose())
        loop.run(app.state.database.dispose())
        loop.close()


def settings_for_machine() -> hypothesis_settings:
    return hypothesis_settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


# A case the machine found, kept as a plain test so that it runs every time.


async def test_a_teacher_freed_from_a_staggered_class_gives_the_waiting_customer_the_spot(
    api: Api,
) -> None:
    """A family of three fills the 11:00 class and a customer waits for it. The family
    moves to 10:30, so the 11:00 class has three free spots but John would be teaching
    two classes at once: the customer rightly keeps waiting. Then the family cancels:
    John is free at 11:00 again, and the free spots must go to the customer waiting for
    them (the contract's "any later change that frees spots"), never to someone else."""
    studio = await open_studio(api)
    yoga = await studio.offer(
        "Group Yoga", key="yoga", parallel=True, capacity=3, waitlist_enabled=True
    )
    john = await studio.hire("John Smith", [yoga], key="john")
    family = await studio.book(yoga, john, start="11:00", party_size=3)
    waiting = await studio.join_waitlist(yoga, john, start="11:00")
    assert waiting["position"] == 1
    await api.put(
        f"/appointments/{family['id']}/reschedule", {"new_date": MONDAY, "new_start_time": "10:30"}
    )
    assert (await studio.waitlist_entry(waiting))["status"] == "waiting"

    await api.put(f"/appointments/{family['id']}/cancel")

    entry = await studio.waitlist_entry(waiting)
    assert entry["status"] == "promoted", (
        f"the 11:00 class has 3 free spots and John is free, yet the entry reads {entry}"
    )
    # Nobody else can take the spot the customer was waiting for.
    await studio.book(yoga, john, start="11:00", party_size=3, expect=409)
