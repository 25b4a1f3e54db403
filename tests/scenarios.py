"""The tests' one scenario builder: a studio's day, set up and booked through the API.

``open_studio`` signs a business up and opens its outlet; the ``Studio`` it answers then
offers services, hires staff, welcomes customers, gives time off and books, the way a
front desk would. Each service, staff member or customer is kept under a key (its name
unless told otherwise) and, with a short key, read back as an attribute::

    studio = await open_studio(api)
    yoga = await studio.offer("Group Yoga", key="yoga", parallel=True, capacity=10)
    await studio.hire("John Smith", [yoga], key="john")
    await studio.book(studio.yoga, studio.john, start="18:00")

Booking bodies come from ``tests.support``: ``appointment_body`` for the staff API
(``Studio.booking``, ``Api.book``), ``public_booking_body`` for the public booking page.
``open_staffed_studio`` is the studio of the public booking page's tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import MONDAY, Api, appointment_body

Json = dict[str, Any]


@dataclass
class Studio:
    """One business: its outlet and what it has set up, each kept under a key."""

    api: Api
    outlet: Json
    slug: str = ""
    day: str = MONDAY  # the day bookings are made for unless told otherwise
    services: dict[str, Json] = field(default_factory=dict)
    staff: dict[str, Json] = field(default_factory=dict)
    customers: dict[str, Json] = field(default_factory=dict)
    time_off: list[Json] = field(default_factory=list)

    def __getattr__(self, key: str) -> Json:
        """A service, staff member or customer by its key: ``studio.yoga``."""
        kept = {} if key.startswith("_") else self._kept()
        if key in kept:
            return kept[key]
        raise AttributeError(f"the studio has nothing kept as {key!r}")

    def _kept(self) -> dict[str, Json]:
        # Read through __dict__, so that __getattr__ never recurses (copy, pickle).
        return {
            key: item
            for registry in ("services", "staff", "customers")
            for key, item in self.__dict__.get(registry, {}).items()
        }

    def _keep(self, registry: dict[str, Json], key: str, item: Json) -> Json:
        taken = hasattr(type(self), key) or key in self.__dict__ or key in self._kept()
        assert not taken, f"the key {key!r} is taken"
        registry[key] = item
        return item

    @property
    def base(self) -> str:
        """The outlet's public booking API."""
        return f"/api/v1/public/{self.slug}/outlets/{self.outlet['id']}"

    # Setting up the day

    async def offer(
        self,
        name: str,
        *,
        key: str | None = None,
        parallel: bool = False,
        capacity: int = 1,
        duration: int = 60,
        **extra: Any,
    ) -> Json:
        """A service: one to one, or a class of ``capacity`` when ``parallel``."""
        service = await self.api.service(
            name, parallel=parallel, capacity=capacity, duration=duration, **extra
        )
        return self._keep(self.services, key or name, service)

    async def hire(
        self,
        name: str,
        services: list[Json],
        *,
        key: str | None = None,
        working_hours: Json | None = None,
    ) -> Json:
        """A staff member at the outlet (every day 08:00-22:00 unless told otherwise)."""
        member = await self.api.staff(name, self.outlet, services, working_hours)
        return self._keep(self.staff, key or name, member)

    async def customer(self, name: str | None = None, *, key: str | None = None) -> Json:
        created = await self.api.customer(name)
        return self._keep(self.customers, key or created["name"], created)

    async def give_time_off(self, member: Json, start: str, end: str, **fields: Any) -> Json:
        off = await self.api.time_off(member, start, end, **fields)
        self.time_off.append(off)
        return off

    # Booking

    def booking(
        self,
        service: Json,
        member: Json,
        customer: Json,
        *,
        start: str = "10:00",
        date: str | None = None,
        **extra: Any,
    ) -> Json:
        """The staff API's booking body for one service with one staff member."""
        return appointment_body(
            self.outlet, customer, [(service, member)], date=date or self.day, start=start, **extra
        )

    async def book_response(
        self,
        service: Json,
        member: Json,
        *,
        customer: Json | None = None,
        start: str = "10:00",
        date: str | None = None,
        **extra: Any,
    ) -> httpx.Response:
        """Try to book (a new customer unless one is given): the answer, whatever it is."""
        customer = customer or await self.api.customer()
        return await self.api.book_response(
            self.outlet, customer, [(service, member)], date=date or self.day, start=start, **extra
        )

    async def book(self, service: Json, member: Json, *, expect: int = 201, **booking: Any) -> Json:
        """Book as ``book_response`` does and check the answer's status."""
        response = await self.book_response(service, member, **booking)
        assert response.status_code == expect, (
            f"booking {service['name']} with {member['name']}: expected {expect}, "
            f"got {response.status_code}: {response.text}"
        )
        return dict(response.json())

    # Reading the day back

    async def grid_slot(
        self, service: Json, staff: Json, start: str, *, date: str | None = None
    ) -> Json:
        day = date or self.day
        grid = await self.api.get(
            "/availability/availability-grid",
            params={
                "outlet_id": self.outlet["id"],
                "service_id": service["id"],
                "staff_id": staff["id"],
                "start_date": day,
                "end_date": day,
            },
        )
        matching = [slot for slot in grid[day] if slot["start_time"] == f"{start}:00"]
        assert len(matching) == 1, f"no single slot at {start} in {grid[day]}"
        return dict(matching[0])

    async def active_in_session(
        self, service: Json, staff: Json, start: str, *, date: str | None = None
    ) -> int:
        day = date or self.day
        listing = await self.api.get(
            "/appointments",
            params={
                "staff_id": staff["id"],
                "service_id": service["id"],
                "start_date": day,
                "end_date": day,
                "status": ["pending", "confirmed", "completed"],
                "limit": 500,
            },
        )
        return sum(1 for a in listing["items"] if a["start_time"] == f"{start}:00")

    # The waitlist

    async def join_waitlist_response(
        self,
        service: Json,
        member: Json,
        *,
        customer: Json | None = None,
        start: str = "10:00",
        date: str | None = None,
        **extra: Any,
    ) -> httpx.Response:
        """Ask for a place on a session's waitlist (a new customer unless one is given)."""
        customer = customer or await self.api.customer()
        body = {
            "outlet_id": self.outlet["id"],
            "customer_id": customer["id"],
            "service_id": service["id"],
            "staff_id": member["id"],
            "date": date or self.day,
            "start_time": start,
            **extra,
        }
        return await self.api.request("POST", "/waitlist", body)

    async def join_waitlist(
        self, service: Json, member: Json, *, expect: int = 201, **joining: Any
    ) -> Json:
        """Join as ``join_waitlist_response`` does and check the answer's status."""
        response = await self.join_waitlist_response(service, member, **joining)
        assert response.status_code == expect, (
            f"joining the waitlist of {service['name']} with {member['name']}: expected "
            f"{expect}, got {response.status_code}: {response.text}"
        )
        return dict(response.json())

    async def waitlist_entry(self, entry: Json) -> Json:
        """A waitlist entry read back now."""
        return dict(await self.api.get(f"/waitlist/{entry['id']}"))


async def open_studio(
    api: Api,
    business_name: str = "Lotus Yoga",
    *,
    timezone: str = "Europe/London",
    currency: str | None = None,
    day: str = MONDAY,
) -> Studio:
    """Sign a business up (``api`` then acts as its owner) and open its outlet."""
    await api.signup(business_name, currency=currency)
    me = await api.get("/auth/me")
    outlet = await api.outlet(timezone=timezone)
    return Studio(api, outlet, slug=me["tenant_slug"], day=day)


async def open_staffed_studio(api: Api, business_name: str = "Lotus Yoga") -> Studio:
    """A studio ready for walk-ins: John Smith teaches Group Yoga (10 spots a class) and
    Anna Lee cuts hair, one customer at a time; as ``studio.yoga``, ``studio.john``,
    ``studio.haircut`` and ``studio.anna``."""
    studio = await open_studio(api, business_name)
    yoga = await studio.offer("Group Yoga", key="yoga", parallel=True, capacity=10)
    haircut = await studio.offer("Haircut", key="haircut")
    await studio.hire("John Smith", [yoga], key="john")
    await studio.hire("Anna Lee", [haircut], key="anna")
    return studio
