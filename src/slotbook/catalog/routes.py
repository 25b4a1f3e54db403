from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from slotbook.auth.dependencies import AnyUser, CallerFirstRoute, ClockDep, Manager
from slotbook.catalog import service
from slotbook.catalog.schemas import (
    CustomerCreate,
    CustomerOut,
    CustomerUpdate,
    OutletCreate,
    OutletOut,
    OutletUpdate,
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
)
from slotbook.errors import AUTHED, Conflict, InvalidInput, NotFound, responses
from slotbook.schemas import Id, Page, PageParams, SearchText, page_params
from slotbook.storage import SessionDep

router = APIRouter(route_class=CallerFirstRoute)
Paging = Annotated[PageParams, Depends(page_params)]
READ = responses(*AUTHED, NotFound)
WRITE = responses(*AUTHED, NotFound, InvalidInput, Conflict)


@router.post(
    "/outlets", status_code=201, response_model=OutletOut, tags=["outlets"], responses=WRITE
)
async def create_outlet(
    data: OutletCreate, principal: Manager, session: SessionDep, clock: ClockDep
) -> object:
    return await service.create_outlet(session, principal, data, clock.now())


@router.get("/outlets", response_model=Page[OutletOut], tags=["outlets"], responses=READ)
async def list_outlets(principal: AnyUser, session: SessionDep, page: Paging) -> object:
    items, total = await service.list_outlets(session, principal, page)
    return {"items": items, "total": total}


@router.get("/outlets/{outlet_id}", response_model=OutletOut, tags=["outlets"], responses=READ)
async def get_outlet(outlet_id: str, principal: AnyUser, session: SessionDep) -> object:
    return await service.get_outlet(session, principal, outlet_id)


@router.patch("/outlets/{outlet_id}", response_model=OutletOut, tags=["outlets"], responses=WRITE)
async def update_outlet(
    outlet_id: str, data: OutletUpdate, principal: Manager, session: SessionDep
) -> object:
    return await service.update_outlet(session, principal, outlet_id, data)


@router.post(
    "/services", status_code=201, response_model=ServiceOut, tags=["services"], responses=WRITE
)
async def create_service(
    data: ServiceCreate, principal: Manager, session: SessionDep, clock: ClockDep
) -> ServiceOut:
    return await service.create_service(session, principal, data, clock.now())


@router.get("/services", response_model=Page[ServiceOut], tags=["services"], responses=READ)
async def list_services(principal: AnyUser, session: SessionDep, page: Paging) -> Page[ServiceOut]:
    return await service.list_services(session, principal, page)


@router.get("/services/{service_id}", response_model=ServiceOut, tags=["services"], responses=READ)
async def get_service(service_id: str, principal: AnyUser, session: SessionDep) -> ServiceOut:
    return await service.get_service(session, principal, service_id)


@router.patch(
    "/services/{service_id}", response_model=ServiceUpdateOut, tags=["services"], responses=WRITE
)
async def update_service(
    service_id: str,
    data: ServiceUpdate,
    principal: Manager,
    session: SessionDep,
    clock: ClockDep,
    request: Request,
) -> ServiceUpdateOut:
    service_changed: service.ServiceChanged = request.app.state.service_changed
    return await service.update_service(
        session, principal, service_id, data, clock.now(), service_changed
    )


@router.post("/staff", status_code=201, response_model=StaffOut, tags=["staff"], responses=WRITE)
async def create_staff(
    data: StaffCreate, principal: Manager, session: SessionDep, clock: ClockDep
) -> StaffOut:
    return await service.create_staff(session, principal, data, clock.now())


@router.get("/staff", response_model=Page[StaffOut], tags=["staff"], responses=READ)
async def list_staff(
    principal: AnyUser,
    session: SessionDep,
    page: Paging,
    outlet_id: Annotated[Id | None, Query()] = None,
) -> Page[StaffOut]:
    return await service.list_staff(session, principal, outlet_id, page)


@router.get("/staff/{staff_id}", response_model=StaffOut, tags=["staff"], responses=READ)
async def get_staff(staff_id: str, principal: AnyUser, session: SessionDep) -> StaffOut:
    return await service.get_staff(session, principal, staff_id)


@router.patch("/staff/{staff_id}", response_model=StaffOut, tags=["staff"], responses=WRITE)
async def update_staff(
    staff_id: str, data: StaffUpdate, principal: Manager, session: SessionDep
) -> StaffOut:
    return await service.update_staff(session, principal, staff_id, data)


@router.post(
    "/staff/{staff_id}/time-off",
    status_code=201,
    response_model=TimeOffCreated,
    tags=["staff"],
    responses=WRITE,
)
async def add_time_off(
    staff_id: str, data: TimeOffCreate, principal: Manager, session: SessionDep, clock: ClockDep
) -> object:
    return await service.add_time_off(session, principal, staff_id, data, clock.now())


@router.get(
    "/staff/{staff_id}/time-off", response_model=Page[TimeOffOut], tags=["staff"], responses=READ
)
async def list_time_off(
    staff_id: str, principal: AnyUser, session: SessionDep, page: Paging
) -> object:
    items, total = await service.list_time_off(session, principal, staff_id, page)
    return {"items": items, "total": total}


@router.delete(
    "/staff/{staff_id}/time-off/{time_off_id}", status_code=204, tags=["staff"], responses=WRITE
)
async def delete_time_off(
    staff_id: str, time_off_id: str, principal: Manager, session: SessionDep
) -> Response:
    await service.delete_time_off(session, principal, staff_id, time_off_id)
    return Response(status_code=204)


@router.post(
    "/customers", status_code=201, response_model=CustomerOut, tags=["customers"], responses=WRITE
)
async def create_customer(
    data: CustomerCreate, principal: AnyUser, session: SessionDep, clock: ClockDep
) -> object:
    return await service.create_customer(session, principal.tenant_id, data, clock.now())


@router.get("/customers", response_model=Page[CustomerOut], tags=["customers"], responses=READ)
async def list_customers(
    principal: AnyUser,
    session: SessionDep,
    page: Paging,
    q: Annotated[SearchText | None, Query(max_length=200)] = None,
) -> object:
    items, total = await service.list_customers(session, principal, q, page)
    return {"items": items, "total": total}


@router.get(
    "/customers/{customer_id}", response_model=CustomerOut, tags=["customers"], responses=READ
)
async def get_customer(customer_id: str, principal: AnyUser, session: SessionDep) -> object:
    return await service.get_customer(session, principal, customer_id)


@router.patch(
    "/customers/{customer_id}", response_model=CustomerOut, tags=["customers"], responses=WRITE
)
async def update_customer(
    customer_id: str, data: CustomerUpdate, principal: AnyUser, session: SessionDep
) -> object:
    return await service.update_customer(session, principal, customer_id, data)
