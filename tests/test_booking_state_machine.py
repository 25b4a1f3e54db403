"""Random sequences of bookings, moves and status changes, checked against a model.

A hypothesis state machine drives the API (create, with or without an Idempotency-Key;
reschedule; cancel; no-show; confirm; complete) for one small business: three staff
members with uneven working hours and some time off, a group class (capacity 3), a short
group class (capacity 2), a parallel service of capacity 1 and a single-booking service
whose ``max_parallel_bookings`` must be ignored. Every request's answer is compared with
a model that applies the contract's booking rules on its own (not ``slotbook.booking.rules``):
accepted exactly when the model accepts, refused with a 409 code the model allows, 422
for the past or a staff member who does not offer the service, never a 5xx. After every
step the whole appointment list must equal the model, and - independently of the model -
no session may be over capacity and no staff member may be in two places.

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


@dataclass(frozen=True)
class ServiceSpec:
    key: str
    parallel: bool
    capacity: int  # as sent in max_parallel_bookings
    duration: int

    @property
    def effective_capacity(self) -> int:
        return self.capacity if self.parallel else 1


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
        ServiceSpec("yoga", parallel=True, capacity=3, duration=60),
        ServiceSpec("pilates", parallel=True, capacity=2, duration=30),
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
            await studio.offer(
                spec.key.title(),
                key=spec.key,
                parallel=spec.parallel,
                capacity=spec.capacity,
                duration=spec.duration,
            )
        for i in range(2):
            await studio.customer(f"Customer {i}")
        return studio


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: expected {status}, "
        f"got {response.status_code}: {response.text}"
    )
    return response.json()


def assert_refused(response: httpx.Response, allowed_codes: set[str]) -> None:
    """A 409 from the booking rules: the brief's detail and a code the model allows."""
    body = expect(response, 409)
    assert body.get("detail") == CONFLICT_DETAIL, body
    assert body.get("code") in allowed_codes, (
        f"code {body.get('code')}, model allows {allowed_codes}"
    )


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

    def call(
        self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.h.call(method, path, json, headers)

    @initialize()
    def open_outlet(self) -> None:
        """A clean slate per example: a new outlet and staff (sessions are per staff member)."""
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

    # The model's view of the rules (the contract's "Booking rules", written afresh)

    def refusal_codes(self, day: str, lines: list[Line], exclude: str | None) -> set[str]:
        """Every 409 code some line of this booking deserves; empty when it books."""
        codes: set[str] = set()
        for line in lines:
            codes |= self.line_codes(day, line, exclude)
        return codes

    def same_session_count(self, day: str, line: Line, exclude: str | None) -> int:
        return sum(
            1
            for other_day, other in self.active_lines(exclude)
            if other_day == day
            and other.staff == line.staff
            and other.service == line.service
            and (other.start, other.end) == (line.start, line.end)
        )

    def line_codes(self, day: str, line: Line, exclude: str | None) -> set[str]:
        spec = SERVICES[line.service]
        codes: set[str] = set()
        if not STAFF[line.staff].works(day, line.start, line.end):
            codes.add("staff_unavailable")
        for other_day, other in self.active_lines(exclude):
            if other_day != day or other.staff != line.staff:
                continue
            if not (other.start < line.end and line.start < other.end):
                continue
            if other.service != line.service:
                codes.add("staff_busy")
            elif not spec.parallel:
                codes.add("slot_taken")
            elif (other.start, other.end) != (line.start, line.end):
                codes.add("staff_busy")
        if spec.parallel and self.same_session_count(day, line, exclude) >= spec.capacity:
            codes.add("capacity_reached")
        return codes

    def active_lines(self, exclude: str | None = None) -> list[tuple[str, Line]]:
        return [
            (appointment.day, line)
            for appointment in self.model.values()
            if appointment.status in ACTIVE and appointment.id != exclude
            for line in appointment.lines
        ]

    def check_capacity_body(
        self, response: httpx.Response, day: str, lines: list[Line], exclude: str | None
    ) -> None:
        body = response.json()
        if body.get("code") != "capacity_reached":
            return
        full = {
            (self.same_session_count(day, line, exclude), SERVICES[line.service].capacity)
            for line in lines
            if "capacity_reached" in self.line_codes(day, line, exclude)
        }
        assert (body.get("current_bookings"), body.get("max_capacity")) in full, (body, full)

    def assert_matches(self, body: dict[str, Any], appointment: Appointment) -> None:
        assert body["id"] == appointment.id
        assert body["status"] == appointment.status, (body, appointment)
        assert body["appointment_date"] == appointment.day
        assert body["start_time"] == clock_text(appointment.lines[0].start)
        assert body["end_time"] == clock_text(appointment.lines[-1].end)
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

    # Rules

    @rule(
        target=appointments,
        line=st.sampled_from(OFFERED),
        day=st.sampled_from(BUSY_DAYS),
        start=st.sampled_from(BUSY_STARTS),
        status=st.sampled_from(["confirmed", "pending"]),
        customer=st.integers(0, 1),
        idempotent=st.sampled_from([False, False, True]),
    )
    def book(
        self,
        line: tuple[int, str],
        day: str,
        start: int,
        status: str,
        customer: int,
        idempotent: bool,
    ) -> Any:
        """One service, offered by the staff member, at a busy time: sessions fill up."""
        return self.create([line], day, start, status, customer, idempotent)

    @rule(
        target=appointments,
        shape=st.lists(ANY_LINE, min_size=1, max_size=2),
        day=st.sampled_from(DAYS),
        start=st.sampled_from(STARTS),
        status=st.sampled_from(["confirmed", "pending"]),
        customer=st.integers(0, 1),
        idempotent=st.sampled_from([False, False, True]),
    )
    def book_anything(
        self,
        shape: list[tuple[int, str]],
        day: str,
        start: int,
        status: str,
        customer: int,
        idempotent: bool,
    ) -> Any:
        """One or two services back to back, any staff, any time (today, past, off hours)."""
        return self.create(shape, day, start, status, customer, idempotent)

    def create(
        self,
        shape: list[tuple[int, str]],
        day: str,
        start: int,
        status: str,
        customer: int,
        idempotent: bool,
    ) -> Any:
        lines = planned(day, start, shape)
        body = appointment_body(
            self.outlet,
            self.customers[customer],
            [(self.services[line.service], self.staff[line.staff]) for line in lines],
            date=day,
            start=hhmm(start),
            status=status,
        )
        headers = {"Idempotency-Key": uuid.uuid4().hex} if idempotent else None
        response = self.call("POST", "/appointments", body, headers)
        if idempotent:  # the repeat gets the first answer and books nothing more
            repeat = self.call("POST", "/appointments", body, headers)
            assert (repeat.status_code, repeat.json()) == (response.status_code, response.json())

        if any(line.service not in STAFF[line.staff].services for line in lines):
            expect(response, 422)
            return multiple()
        if in_past(day, start):
            expect(response, 422)
            return multiple()
        codes = self.refusal_codes(day, lines, None)
        if codes:
            assert_refused(response, codes)
            self.check_capacity_body(response, day, lines, None)
            return multiple()
        created = expect(response, 201)
        appointment = Appointment(created["id"], status, day, lines)
        self.assert_matches(created, appointment)
        assert created["customer_id"] == self.customers[customer]["id"]
        self.model[appointment.id] = appointment
        return appointment.id

    @rule(
        target=appointments,
        appointment_id=appointments,
        status=st.sampled_from(["confirmed", "pending"]),
        customer=st.integers(0, 1),
    )
    def join_session(self, appointment_id: str, status: str, customer: int) -> Any:
        """Book into an existing booking's session: sessions fill up and overflow."""
        appointment = self.model[appointment_id]
        first = appointment.lines[0]
        shape = [(first.staff, first.service)]
        return self.create(shape, appointment.day, first.start, status, customer, False)

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

    @rule(
        appointment_id=appointments,
        how=st.sampled_from(["anywhere", "in_place", "shift"]),
        day=st.sampled_from(DAYS),
        start=st.one_of(st.sampled_from(BUSY_STARTS), st.sampled_from(STARTS)),
        shift=st.sampled_from([30, -30, 15]),
    )
    def reschedule(self, appointment_id: str, how: str, day: str, start: int, shift: int) -> None:
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
            return
        if in_past(day, start):
            expect(response, 422)
            return
        codes = self.refusal_codes(day, lines, appointment_id)
        if codes:
            assert_refused(response, codes)
            self.check_capacity_body(response, day, lines, appointment_id)
            return
        moved = expect(response, 200)
        appointment.day, appointment.lines = day, lines
        self.assert_matches(moved, appointment)

    def transition(self, appointment_id: str, target: str) -> None:
        appointment = self.model[appointment_id]
        action, leaves = TRANSITIONS[target]
        response = self.call("PUT", f"/appointments/{appointment_id}/{action}")
        if appointment.status == target:  # a repeat: 200, nothing changes
            self.assert_matches(expect(response, 200), appointment)
        elif appointment.status in leaves:
            appointment.status = target
            self.assert_matches(expect(response, 200), appointment)
        else:
            expect(response, 409)

    @rule(appointment_id=appointments, to=st.sampled_from(list(TRANSITIONS)))
    def change_status(self, appointment_id: str, to: str) -> None:
        """Cancel, no-show, complete or confirm, whatever the appointment's status."""
        self.transition(appointment_id, to)

    # Invariants, read back from the API after every step

    def listed(self) -> list[dict[str, Any]]:
        page = expect(
            self.call("GET", f"/appointments?outlet_id={self.outlet['id']}&limit=500"), 200
        )
        assert page["total"] == len(page["items"])
        return list(page["items"])

    @invariant()
    def api_state_is_sound(self) -> None:
        items = self.listed()

        # The model: the same appointments, statuses, dates and lines.
        assert sorted(item["id"] for item in items) == sorted(self.model)
        for item in items:
            self.assert_matches(item, self.model[item["id"]])

        # Independently of the model: capacity and one place at a time, per staff member.
        capacity = {
            self.services[key]["id"]: spec.effective_capacity for key, spec in SERVICES.items()
        }
        parallel = {self.services[key]["id"]: spec.parallel for key, spec in SERVICES.items()}
        by_staff: dict[str, list[tuple[str, str, str, str, str]]] = defaultdict(list)
        for item in items:
            if item["status"] not in ACTIVE:
                continue
            for s in item["services"]:
                line = (item["appointment_date"], s["start_time"], s["end_time"], s["service_id"])
                by_staff[s["staff_id"]].append((*line, item["id"]))
        for staff_id, lines in by_staff.items():
            sessions = Counter((day, a, b, service) for day, a, b, service, _ in lines)
            for (day, a, b, service), booked in sessions.items():
                assert booked <= capacity[service], (
                    f"session over capacity: staff {staff_id} {service} {day} {a}-{b}: "
                    f"{booked} > {capacity[service]}"
                )
            for first, second in itertools.combinations(lines, 2):
                day1, a1, b1, service1, _ = first
                day2, a2, b2, service2, _ = second
                if day1 != day2 or not (a1 < b2 and a2 < b1):
                    continue
                same_session = service1 == service2 and (a1, b1) == (a2, b2)
                assert same_session and parallel[service1], (
                    f"staff {staff_id} in two places: {first} and {second}"
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
