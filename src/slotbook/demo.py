"""A demo business whose next seven days show every state the pages know.

Tomorrow's 10:00 yoga class is full, 11:00 is almost full, others are partly booked;
there are one-to-one services, and one teacher is on holiday for two days. Loading is
done once: when the demo owner exists, only the login text is printed again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth import service as auth
from slotbook.auth.repository import find_user_by_email, get_tenant
from slotbook.auth.schemas import SignupIn, UserCreate
from slotbook.auth.security import Principal, Role
from slotbook.booking import service as booking
from slotbook.booking.repository import Actor
from slotbook.booking.schemas import AppointmentCreate, ServiceLineIn, WaitlistJoin
from slotbook.catalog import service as catalog
from slotbook.catalog.schemas import (
    CustomerCreate,
    OutletCreate,
    ServiceCreate,
    ServiceOut,
    StaffCreate,
    StaffOut,
    TimeOffCreate,
    WorkingHours,
)
from slotbook.clock import SystemClock
from slotbook.scheduling.rules import WEEKDAYS, Weekday
from slotbook.schemas import PageParams
from slotbook.settings import Settings
from slotbook.storage import create_database
from slotbook.timetable import service as timetable
from slotbook.timetable.schemas import ScheduleCreate, ScheduleOut, SeriesBooking

BUSINESS = "Lotus Yoga Demo"
OWNER_EMAIL = "owner@lotus-yoga.example.com"
OWNER_PASSWORD = "lotus-demo-owner"
DESK_EMAIL = "desk@lotus-yoga.example.com"
DESK_PASSWORD = "lotus-demo-desk"
TIMEZONE = "Europe/London"
BASE_URL = "http://127.0.0.1:8000"
CUSTOMERS = (
    "Amelia Hart",
    "Ben Okafor",
    "Chloe Martin",
    "Daniel Kim",
    "Ella Novak",
    "Farah Aziz",
    "George Li",
    "Hannah Berg",
    "Isaac Moreau",
    "Julia Rossi",
    "Kai Tanaka",
    "Lena Fischer",
    "Marco Silva",
    "Nora Quinn",
)


def _hours(days: tuple[str, ...], start: str, end: str) -> WorkingHours:
    return WorkingHours.model_validate({day: [{"start": start, "end": end}] for day in days})


@dataclass
class DemoBuilder:
    session: AsyncSession
    principal: Principal
    now: datetime
    outlet_id: str = ""

    async def service(
        self,
        name: str,
        duration: int,
        price: int,
        capacity: int = 0,
        waitlist: bool = False,
        timetable: bool = False,
    ) -> ServiceOut:
        data = ServiceCreate(
            name=name,
            duration=duration,
            price=price,
            allow_parallel_bookings=capacity > 0,
            max_parallel_bookings=max(capacity, 1),
            waitlist_enabled=waitlist,
            booking_mode="timetable" if timetable else "open",
        )
        return await catalog.create_service(self.session, self.principal, data, self.now)

    async def staff(self, name: str, services: list[ServiceOut], hours: WorkingHours) -> StaffOut:
        data = StaffCreate(
            name=name,
            outlet_id=self.outlet_id,
            service_ids=[s.id for s in services],
            working_hours=hours,
        )
        return await catalog.create_staff(self.session, self.principal, data, self.now)

    async def book(
        self,
        service: ServiceOut,
        staff: StaffOut,
        day: date,
        start: time,
        customer_ids: list[str],
        party_size: int = 1,
    ) -> None:
        ctx = self._context()
        for customer_id in customer_ids:
            # One transaction per booking, as through the API: each takes its own locks.
            await self.session.commit()
            await booking.create_appointment(
                self.session,
                ctx,
                AppointmentCreate(
                    outlet_id=self.outlet_id,
                    customer_id=customer_id,
                    appointment_date=day,
                    start_time=start,
                    services=[ServiceLineIn(service_id=service.id, staff_id=staff.id)],
                    party_size=party_size,
                ),
            )

    async def wait(
        self, service: ServiceOut, staff: StaffOut, day: date, start: time, customer_ids: list[str]
    ) -> None:
        """Customers in line for a full class, in this order."""
        for customer_id in customer_ids:
            await self.session.commit()
            await booking.join_waitlist(
                self.session,
                self._context(),
                WaitlistJoin(
                    outlet_id=self.outlet_id,
                    customer_id=customer_id,
                    service_id=service.id,
                    staff_id=staff.id,
                    date=day,
                    start_time=start,
                ),
            )

    async def schedule(
        self,
        service: ServiceOut,
        staff: StaffOut,
        days: list[Weekday],
        start: time,
        first: date,
        capacity: int | None = None,
    ) -> ScheduleOut:
        """A class on the timetable, every week on ``days``."""
        await self.session.commit()
        return await timetable.create_schedule(
            self.session,
            self._context(),
            ScheduleCreate(
                service_id=service.id,
                outlet_id=self.outlet_id,
                staff_id=staff.id,
                start_time=start,
                days=days,
                first_date=first,
                capacity=capacity,
            ),
        )

    async def book_series(self, schedule: ScheduleOut, customer_id: str, count: int) -> None:
        await self.session.commit()
        await timetable.book_schedule(
            self.session,
            self._context(),
            schedule.id,
            SeriesBooking(customer_id=customer_id, count=count),
        )

    def _context(self) -> booking.BookingContext:
        return booking.BookingContext(
            self.principal.tenant_id, Actor("user", self.principal.user_id), self.now
        )


async def _build(session: AsyncSession, settings: Settings, now: datetime) -> None:
    tokens = auth.TokenPolicy(settings.resolved_secret_key(), timedelta(minutes=5))
    tenant, owner, _ = await auth.signup(
        session,
        SignupIn(
            business_name=BUSINESS,
            email=OWNER_EMAIL,
            password=OWNER_PASSWORD,
            name="Olivia Owner",
            currency="GBP",
        ),
        tokens=tokens,
        now=now,
    )
    principal = Principal(owner.id, tenant.id, Role.OWNER)
    await auth.create_user(
        session,
        principal,
        UserCreate(email=DESK_EMAIL, password=DESK_PASSWORD, name="Front Desk", role="staff"),
        now=now,
    )
    outlet = await catalog.create_outlet(
        session,
        principal,
        OutletCreate(name="Riverside Studio", timezone=TIMEZONE, address="12 River Walk, London"),
        now,
    )
    demo = DemoBuilder(session, principal, now, outlet.id)

    # Prices in pence, GBP's smallest shown unit (CLDR digits 2): 1500 is £15.00.
    yoga = await demo.service("Group Yoga", 60, 1500, capacity=10, waitlist=True)
    pilates = await demo.service("Pilates Mat", 60, 1800, capacity=6)
    boot_camp = await demo.service("Boot Camp", 60, 1200, capacity=8)
    private = await demo.service("Private Yoga Session", 60, 6000)
    massage = await demo.service("Sports Massage", 45, 5500)
    # On the timetable: it runs only at its scheduled classes.
    vinyasa = await demo.service(
        "Vinyasa Flow", 60, 1600, capacity=12, waitlist=True, timetable=True
    )

    every_day, weekdays, not_sunday = WEEKDAYS, WEEKDAYS[:5], WEEKDAYS[:6]
    john = await demo.staff("John Smith", [yoga, private], _hours(every_day, "08:00", "20:00"))
    maria = await demo.staff(
        "Maria Garcia", [pilates, boot_camp], _hours(not_sunday, "07:00", "19:00")
    )
    alex = await demo.staff("Alex Chen", [massage], _hours(weekdays, "09:00", "17:00"))
    priya = await demo.staff(
        "Priya Patel", [yoga, private, massage], _hours(every_day, "10:00", "18:00")
    )
    maya = await demo.staff("Maya Rao", [vinyasa], _hours(every_day, "07:00", "21:00"))

    customers = [
        (
            await catalog.create_customer(
                session,
                principal.tenant_id,
                CustomerCreate(
                    name=name,
                    email=f"{name.split()[0].lower()}@customers.example.com",
                    phone=f"+44 20 7946 {index:04d}",
                ),
                now,
            )
        ).id
        for index, name in enumerate(CUSTOMERS)
    ]

    today = now.astimezone(ZoneInfo(TIMEZONE)).date()
    day = [today + timedelta(days=offset) for offset in range(8)]
    await catalog.add_time_off(
        session,
        principal,
        priya.id,
        TimeOffCreate(
            start=datetime.combine(day[2], time()),
            end=datetime.combine(day[4], time()),
            reason="Holiday",
        ),
        now,
    )
    await demo.book(yoga, john, day[1], time(10), customers[:10])  # Full
    await demo.wait(yoga, john, day[1], time(10), customers[11:13])  # two in line
    await demo.book(yoga, john, day[1], time(11), customers[2:11])  # 1/10 left: Almost Full
    await demo.book(yoga, john, day[1], time(18), customers[5:8])  # 7/10 left
    await demo.book(private, john, day[1], time(14), customers[11:12])
    await demo.book(private, priya, day[1], time(15), customers[12:13])
    await demo.book(pilates, maria, day[2], time(9), customers[:4])  # 2/6 left
    await demo.book(massage, alex, day[2], time(9), customers[13:14])
    await demo.book(massage, alex, day[2], time(10, 30), customers[0:1])
    await demo.book(boot_camp, maria, day[3], time(18), customers[6:11])  # 3/8 left
    await demo.book(boot_camp, maria, day[3], time(18), customers[12:13], party_size=2)  # 1 left
    await demo.book(yoga, john, day[5], time(10), customers[:6])  # 4/10 left
    await demo.book(yoga, priya, day[6], time(12), customers[8:13])  # 5/10 left
    # Vinyasa Flow: Mon/Wed/Fri 18:00, and Saturday mornings in the big room (20 spots).
    evenings = await demo.schedule(
        vinyasa, maya, [Weekday.MONDAY, Weekday.WEDNESDAY, Weekday.FRIDAY], time(18), today
    )
    await demo.schedule(vinyasa, maya, [Weekday.SATURDAY], time(9), today, capacity=20)
    for customer_id in customers[:3]:
        await demo.book_series(evenings, customer_id, count=4)  # the next four evenings


def _login_text(slug: str, outlet_id: str) -> str:
    return "\n".join(
        [
            f"Demo business: {BUSINESS}",
            f"  API docs:          {BASE_URL}/docs",
            f"  Public booking:    {BASE_URL}/book/{slug}/{outlet_id}",
            f"  Front desk:        {BASE_URL}/desk",
            f"  Front desk login:  {DESK_EMAIL} / {DESK_PASSWORD}",
            f"  Owner login:       {OWNER_EMAIL} / {OWNER_PASSWORD}",
        ]
    )


async def load_demo(settings: Settings) -> str:
    """Create the demo business once; answer how to reach it and log in."""
    from slotbook.migrations.runner import upgrade

    url = settings.resolved_database_url()
    await asyncio.to_thread(upgrade, url)
    database = create_database(settings, url=url)
    try:
        async with database.transaction(write=True) as session:
            owner = await find_user_by_email(session, OWNER_EMAIL)
            if owner is None:
                await _build(session, settings, SystemClock().now())
                await session.flush()
                owner = await find_user_by_email(session, OWNER_EMAIL)
                assert owner is not None
            principal = Principal(owner.id, owner.tenant_id, Role.OWNER)
            tenant = await get_tenant(session, owner.tenant_id)
            outlets, _ = await catalog.list_outlets(
                session, principal, PageParams(limit=1, offset=0)
            )
            slug = tenant.slug if tenant else ""
            outlet_id = outlets[0].id if outlets else ""
    finally:
        await database.dispose()
    return _login_text(slug, outlet_id)
