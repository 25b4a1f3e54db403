"""Catalog logic: what may be created and changed, and how it reads back."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.auth.security import Principal
from slotbook.auth.service import find_tenant
from slotbook.catalog.models import Customer, Outlet, Service, ServiceView, Staff, TimeOff
from slotbook.catalog.repository import (
    ClassSessionRepository,
    CustomerRepository,
    OutletRepository,
    ServiceRepository,
    StaffRepository,
    TimeOffRepository,
)
from slotbook.catalog.schemas import (
    CustomerCreate,
    CustomerUpdate,
    OutletCreate,
    OutletUpdate,
    Pricing,
    ServiceCreate,
    ServiceOut,
    ServiceUpdate,
    ServiceUpdateOut,
    StaffCreate,
    StaffOut,
    StaffUpdate,
    TimeOffCreate,
    TimeOffCreated,
    TimeOffOut,
    WorkingHours,
)
from slotbook.errors import Conflict, DuplicateRow, InvalidInput, NotFound
from slotbook.schemas import Page, PageParams
from slotbook.text import slugify, unique_slug

_SLUG_ATTEMPTS = 20


class SlugTaken(Conflict):
    code = "slug_taken"
    default_detail = "Another service already uses this slug"


# Outlets


async def create_outlet(
    session: AsyncSession, principal: Principal, data: OutletCreate, now: datetime
) -> Outlet:
    outlet = OutletRepository(session, principal.tenant_id).add(
        Outlet(name=data.name, timezone=data.timezone, address=data.address, created_at=now)
    )
    await session.flush()
    return outlet


async def update_outlet(
    session: AsyncSession, principal: Principal, outlet_id: str, data: OutletUpdate
) -> Outlet:
    outlet = await OutletRepository(session, principal.tenant_id).get_or_404(outlet_id)
    for name, value in data.changes().items():
        setattr(outlet, name, value)
    await session.flush()
    return outlet


async def list_outlets(
    session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[Outlet], int]:
    repo = OutletRepository(session, principal.tenant_id)
    return await repo.page(repo.listing(), limit=page.limit, offset=page.offset)


async def get_outlet(session: AsyncSession, principal: Principal, outlet_id: str) -> Outlet:
    return await OutletRepository(session, principal.tenant_id).get_or_404(outlet_id)


# Services


def service_out(service: Service) -> ServiceOut:
    pricing = None
    if service.price_type is not None and service.base_price is not None and service.currency:
        pricing = Pricing(type="FIXED", base_price=service.base_price, currency=service.currency)
    return ServiceOut(
        id=service.id,
        name=service.name,
        slug=service.slug,
        category=service.category,
        description=service.description,
        duration=service.duration,
        pricing=pricing,
        allow_parallel_bookings=service.allow_parallel_bookings,
        max_parallel_bookings=service.max_parallel_bookings,
        waitlist_enabled=service.waitlist_enabled,
        waitlist_limit=service.waitlist_limit,
        slot_interval=service.slot_interval,
        booking_mode=service.booking_mode,
        active=service.active,
    )


def _check_waitlist(service: Service) -> None:
    """A waitlist waits for a place in a class; a one-to-one slot has no line to join."""
    if service.waitlist_enabled and not service.allow_parallel_bookings:
        raise InvalidInput(
            "waitlist_enabled: only a service with allow_parallel_bookings keeps a waitlist",
            field="waitlist_enabled",
        )


async def _apply_price(
    session: AsyncSession,
    tenant_id: str,
    service: Service,
    pricing: Pricing | None,
    price: int | None,
) -> None:
    if price is not None:
        tenant = await find_tenant(session, tenant_id)
        pricing = Pricing(
            type="FIXED", base_price=price, currency=tenant.currency if tenant else "USD"
        )
    service.price_type = pricing.type if pricing else None
    service.base_price = pricing.base_price if pricing else None
    service.currency = pricing.currency if pricing else None


async def create_service(
    session: AsyncSession, principal: Principal, data: ServiceCreate, now: datetime
) -> ServiceOut:
    repo = ServiceRepository(session, principal.tenant_id)
    if data.slug is not None and await repo.slug_taken(data.slug):
        raise SlugTaken()
    for _attempt in range(_SLUG_ATTEMPTS):
        if data.slug is not None:
            slug = data.slug
        else:
            base = slugify(data.name)
            slug = unique_slug(base, await repo.slugs_like(base))
        service = Service(
            name=data.name,
            slug=slug,
            category=data.category,
            description=data.description,
            duration=data.duration,
            allow_parallel_bookings=data.allow_parallel_bookings,
            max_parallel_bookings=data.max_parallel_bookings,
            waitlist_enabled=data.waitlist_enabled,
            waitlist_limit=data.waitlist_limit,
            booking_mode=data.booking_mode,
            slot_interval=data.slot_interval or data.duration,
            active=data.active,
            created_at=now,
        )
        _check_waitlist(service)
        await _apply_price(session, principal.tenant_id, service, data.pricing, data.price)
        # A concurrent create may take the slug between our read and our insert: the
        # savepoint keeps the transaction usable, and a derived slug tries the next one.
        try:
            async with repo.savepoint():
                repo.add(service)
        except DuplicateRow as exc:
            if data.slug is not None:
                raise SlugTaken() from exc
            continue
        return service_out(service)
    raise SlugTaken("Could not derive a unique slug, please retry or give one")


class TimetableInUse(Conflict):
    code = "timetable_in_use"
    default_detail = (
        "The service has scheduled class sessions ahead; end its class schedules "
        "before booking it from open slots"
    )


class ServiceChanged(Protocol):
    """What a changed service means for its booked sessions, in the change's transaction:
    rule 8's warnings for future sessions holding more spots than its capacity, waiting
    customers promoted into spots a raised capacity freed, waiting entries cancelled
    when the waitlist is turned off.

    Bookings live above the catalog; the application hands booking's answer in
    (``booking.service.service_changed``), so the catalog never imports booking.
    """

    async def __call__(
        self, session: AsyncSession, principal: Principal, service: ServiceView, now: datetime
    ) -> list[str]: ...


async def update_service(
    session: AsyncSession,
    principal: Principal,
    service_id: str,
    data: ServiceUpdate,
    now: datetime,
    service_changed: ServiceChanged,
) -> ServiceUpdateOut:
    repo = ServiceRepository(session, principal.tenant_id)
    service = await repo.get_or_404(service_id)
    changes = data.changes()
    if "slug" in changes and await repo.slug_taken(changes["slug"], other_than=service.id):
        raise SlugTaken()
    if "pricing" in changes or "price" in changes:
        await _apply_price(
            session,
            principal.tenant_id,
            service,
            changes.pop("pricing", None),
            changes.pop("price", None),
        )
    sessions = ClassSessionRepository(session, principal.tenant_id)
    if (
        changes.get("booking_mode") == "open"
        and service.timetable
        and await sessions.any_ahead(service.id, now)
    ):
        raise TimetableInUse()
    for name, value in changes.items():
        setattr(service, name, value)
    _check_waitlist(service)
    try:
        await repo.flush()
    except DuplicateRow as exc:  # the slug was taken by a concurrent request
        raise SlugTaken() from exc
    if {"allow_parallel_bookings", "max_parallel_bookings"} & set(changes):
        # Sessions of schedules without a capacity of their own follow the service's.
        await sessions.follow_service_capacity(service.id, service.capacity, now)
    warnings = await service_changed(session, principal, repo.view_of(service), now)
    return ServiceUpdateOut(**service_out(service).model_dump(), warnings=warnings)


async def list_services(
    session: AsyncSession, principal: Principal, page: PageParams
) -> Page[ServiceOut]:
    repo = ServiceRepository(session, principal.tenant_id)
    items, total = await repo.page(repo.listing(), limit=page.limit, offset=page.offset)
    return Page(items=[service_out(s) for s in items], total=total)


async def get_service(session: AsyncSession, principal: Principal, service_id: str) -> ServiceOut:
    return service_out(await ServiceRepository(session, principal.tenant_id).get_or_404(service_id))


# Staff


async def _check_refs(
    session: AsyncSession, tenant_id: str, outlet_id: str | None, service_ids: list[str] | None
) -> None:
    if outlet_id is not None:
        await OutletRepository(session, tenant_id).get_for_field(outlet_id, "outlet_id")
    if service_ids:
        found = await ServiceRepository(session, tenant_id).get_many(service_ids)
        missing = [sid for sid in service_ids if sid not in found]
        if missing:
            raise InvalidInput(f"service_ids: unknown service id {missing[0]}", field="service_ids")


def staff_out(staff: Staff, service_ids: list[str]) -> StaffOut:
    return StaffOut(
        id=staff.id,
        name=staff.name,
        outlet_id=staff.outlet_id,
        service_ids=service_ids,
        working_hours=WorkingHours.model_validate(staff.working_hours),
        active=staff.active,
    )


async def create_staff(
    session: AsyncSession, principal: Principal, data: StaffCreate, now: datetime
) -> StaffOut:
    await _check_refs(session, principal.tenant_id, data.outlet_id, data.service_ids)
    repo = StaffRepository(session, principal.tenant_id)
    staff = repo.add(
        Staff(
            name=data.name,
            outlet_id=data.outlet_id,
            working_hours=data.working_hours.as_json(),
            active=data.active,
            created_at=now,
        )
    )
    await session.flush()
    await repo.replace_services(staff.id, data.service_ids)
    await session.flush()
    return staff_out(staff, sorted(dict.fromkeys(data.service_ids)))


async def update_staff(
    session: AsyncSession, principal: Principal, staff_id: str, data: StaffUpdate
) -> StaffOut:
    repo = StaffRepository(session, principal.tenant_id)
    staff = await repo.get_or_404(staff_id)
    changes = data.changes()
    await _check_refs(
        session, principal.tenant_id, changes.get("outlet_id"), changes.get("service_ids")
    )
    if "service_ids" in changes:
        await repo.replace_services(staff.id, changes.pop("service_ids"))
    if "working_hours" in changes:
        staff.working_hours = changes.pop("working_hours").as_json()
    for name, value in changes.items():
        setattr(staff, name, value)
    await session.flush()
    return staff_out(staff, (await repo.service_ids_by_staff([staff.id]))[staff.id])


async def list_staff(
    session: AsyncSession, principal: Principal, outlet_id: str | None, page: PageParams
) -> Page[StaffOut]:
    repo = StaffRepository(session, principal.tenant_id)
    items, total = await repo.page(repo.listing(outlet_id), limit=page.limit, offset=page.offset)
    offered = await repo.service_ids_by_staff([s.id for s in items])
    return Page(items=[staff_out(s, offered[s.id]) for s in items], total=total)


async def get_staff(session: AsyncSession, principal: Principal, staff_id: str) -> StaffOut:
    repo = StaffRepository(session, principal.tenant_id)
    staff = await repo.get_or_404(staff_id)
    return staff_out(staff, (await repo.service_ids_by_staff([staff.id]))[staff.id])


async def add_time_off(
    session: AsyncSession, principal: Principal, staff_id: str, data: TimeOffCreate, now: datetime
) -> TimeOffCreated:
    """Record time off; the answer warns of each scheduled class session it falls on
    (those are no longer bookable: substitute or cancel them)."""
    await StaffRepository(session, principal.tenant_id).get_or_404(staff_id)
    time_off = TimeOffRepository(session, principal.tenant_id).add(
        TimeOff(
            staff_id=staff_id, start=data.start, end=data.end, reason=data.reason, created_at=now
        )
    )
    await session.flush()
    affected = await ClassSessionRepository(session, principal.tenant_id).during(
        staff_id, data.start, data.end, now
    )
    warnings = [
        f"Note: the class {name} on {item.session_date} {item.start_time:%H:%M} falls in this "
        "time off; give it a substitute or cancel it"
        for item, name in affected
    ]
    return TimeOffCreated(**TimeOffOut.model_validate(time_off).model_dump(), warnings=warnings)


async def list_time_off(
    session: AsyncSession, principal: Principal, staff_id: str, page: PageParams
) -> tuple[list[TimeOff], int]:
    await StaffRepository(session, principal.tenant_id).get_or_404(staff_id)
    repo = TimeOffRepository(session, principal.tenant_id)
    return await repo.page(repo.listing(staff_id), limit=page.limit, offset=page.offset)


async def delete_time_off(
    session: AsyncSession, principal: Principal, staff_id: str, time_off_id: str
) -> None:
    repo = TimeOffRepository(session, principal.tenant_id)
    time_off = await repo.get_or_404(time_off_id)
    if time_off.staff_id != staff_id:
        raise NotFound(f"{repo.label} not found")
    await repo.delete(time_off)
    await session.flush()


# Lookups for the public booking pages: the tenant comes from the page's URL, not from a
# principal, and a miss is None, for the page to answer as it answers any unknown id.


async def find_outlet(session: AsyncSession, tenant_id: str, outlet_id: str) -> Outlet | None:
    return await OutletRepository(session, tenant_id).get(outlet_id)


async def find_service(session: AsyncSession, tenant_id: str, service_id: str) -> Service | None:
    return await ServiceRepository(session, tenant_id).get(service_id)


async def find_staff(session: AsyncSession, tenant_id: str, staff_id: str) -> Staff | None:
    return await StaffRepository(session, tenant_id).get(staff_id)


async def bookable_services(session: AsyncSession, tenant_id: str, outlet_id: str) -> list[Service]:
    """Active services that at least one active staff member of the outlet offers, by name."""
    return await ServiceRepository(session, tenant_id).offered_at(outlet_id)


# Customers


async def find_or_create_customer(
    session: AsyncSession, tenant_id: str, data: CustomerCreate, now: datetime
) -> Customer:
    """The tenant's customer with this email, else a new one; an existing customer's
    details are not changed. Concurrent first bookings with one email make one customer."""
    assert data.email is not None
    repo = CustomerRepository(session, tenant_id)
    await repo.lock_email(data.email)
    existing = await repo.find_by_email(data.email)
    if existing is not None:
        return existing
    return await create_customer(session, tenant_id, data, now)


async def create_customer(
    session: AsyncSession, tenant_id: str, data: CustomerCreate, now: datetime
) -> Customer:
    customer = CustomerRepository(session, tenant_id).add(
        Customer(
            name=data.name,
            email=data.email.lower() if data.email else None,
            phone=data.phone,
            created_at=now,
        )
    )
    await session.flush()
    return customer


async def update_customer(
    session: AsyncSession, principal: Principal, customer_id: str, data: CustomerUpdate
) -> Customer:
    customer = await CustomerRepository(session, principal.tenant_id).get_or_404(customer_id)
    for name, value in data.changes().items():
        setattr(customer, name, value.lower() if name == "email" and value else value)
    await session.flush()
    return customer


async def list_customers(
    session: AsyncSession, principal: Principal, query: str | None, page: PageParams
) -> tuple[list[Customer], int]:
    repo = CustomerRepository(session, principal.tenant_id)
    return await repo.page(repo.listing(query), limit=page.limit, offset=page.offset)


async def get_customer(session: AsyncSession, principal: Principal, customer_id: str) -> Customer:
    return await CustomerRepository(session, principal.tenant_id).get_or_404(customer_id)
