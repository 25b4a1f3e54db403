"""A small client for tests: sets up a business and speaks the API as a client would.

The one place request bodies for a booking are built: ``appointment_body`` for the
staff API (``Api.book``, ``Api.book_response`` and ``tests.scenarios.Studio.booking``
use it) and ``public_booking_body`` for a customer on the public booking page.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EVERY_DAY_8_TO_22 = {day: [{"start": "08:00", "end": "22:00"}] for day in DAYS}
MONDAY = "2026-12-07"
TUESDAY = "2026-12-08"
CONFLICT_DETAIL = "Time slot conflicts with existing appointments or capacity limit reached"
_counter = itertools.count(1)
_addresses = itertools.count(1)
Json = dict[str, Any]


def unique_email(prefix: str = "owner") -> str:
    return f"{prefix}{next(_counter)}@example.com"


def appointment_body(
    outlet: Json,
    customer: Json,
    lines: list[tuple[Json, Json]],
    *,
    date: str = MONDAY,
    start: str = "10:00",
    **extra: Any,
) -> Json:
    """The staff API's booking (``POST /appointments``): one (service, staff) per line."""
    return {
        "outlet_id": outlet["id"],
        "customer_id": customer["id"],
        "appointment_date": date,
        "start_time": start,
        "services": [{"service_id": svc["id"], "staff_id": st["id"]} for svc, st in lines],
        **extra,
    }


def public_booking_body(
    service: Json,
    staff: Json,
    *,
    date: str = MONDAY,
    start: str = "10:00",
    email: str = "walk.in@example.com",
    name: str = "Walk In",
    phone: str = "+44 20 7946 0000",
) -> Json:
    """A customer's booking on the public page (``POST /public/.../bookings``), no account."""
    return {
        "service_id": service["id"],
        "staff_id": staff["id"],
        "date": date,
        "start_time": start,
        "name": name,
        "email": email,
        "phone": phone,
    }


def client_for(app: FastAPI, address: str | None = None) -> httpx.AsyncClient:
    """A client with an address of its own, so rate limits never leak between tests."""
    number = next(_addresses)
    host = address or f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


class Api:
    """Calls the API as one tenant user; every call asserts the status it expects."""

    def __init__(self, client: httpx.AsyncClient, token: str | None = None) -> None:
        self.client = client
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        expect: int | None = None,
        headers: dict[str, str] | None = None,
        params: Any = None,
    ) -> httpx.Response:
        response = await self.client.request(
            method,
            f"/api/v1{path}",
            json=json,
            params=params,
            headers={**self.headers, **(headers or {})},
        )
        if expect is not None:
            assert response.status_code == expect, (
                f"{method} {path}: expected {expect}, got {response.status_code}: {response.text}"
            )
        return response

    async def post(
        self, path: str, json: Any = None, *, expect: int | None = 201, **kw: Any
    ) -> Any:
        return (await self.request("POST", path, json, expect=expect, **kw)).json()

    async def get(self, path: str, *, expect: int | None = 200, **kw: Any) -> Any:
        return (await self.request("GET", path, expect=expect, **kw)).json()

    async def patch(self, path: str, json: Any, *, expect: int | None = 200, **kw: Any) -> Any:
        return (await self.request("PATCH", path, json, expect=expect, **kw)).json()

    async def put(self, path: str, json: Any = None, *, expect: int | None = 200, **kw: Any) -> Any:
        return (await self.request("PUT", path, json, expect=expect, **kw)).json()

    # Setting up a business

    async def signup(
        self,
        business_name: str = "Lotus Yoga",
        email: str | None = None,
        password: str = "correct-horse-1",
        *,
        currency: str | None = None,
    ) -> dict[str, Any]:
        fields = {
            "business_name": business_name,
            "email": email or unique_email(),
            "password": password,
        }
        if currency is not None:
            fields["currency"] = currency
        body = await self.post("/auth/signup", fields)
        self.token = body["access_token"]
        return dict(body)

    def as_user(self, token: str) -> Api:
        return Api(self.client, token)

    async def outlet(
        self, name: str = "Main Studio", timezone: str = "Europe/London"
    ) -> dict[str, Any]:
        return dict(await self.post("/outlets", {"name": name, "timezone": timezone}))

    async def service(
        self,
        name: str,
        *,
        parallel: bool = False,
        capacity: int = 1,
        duration: int = 60,
        **extra: Any,
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "duration": duration,
            "allow_parallel_bookings": parallel,
            "max_parallel_bookings": capacity,
            **extra,
        }
        return dict(await self.post("/services", body))

    async def staff(
        self,
        name: str,
        outlet: dict[str, Any],
        services: list[dict[str, Any]],
        working_hours: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "outlet_id": outlet["id"],
            "service_ids": [s["id"] for s in services],
            "working_hours": EVERY_DAY_8_TO_22 if working_hours is None else working_hours,
        }
        return dict(await self.post("/staff", body))

    async def time_off(
        self, staff: dict[str, Any], start: str, end: str, **fields: Any
    ) -> dict[str, Any]:
        body = {"start": start, "end": end, **fields}
        return dict(await self.post(f"/staff/{staff['id']}/time-off", body))

    async def customer(self, name: str | None = None) -> dict[str, Any]:
        number = next(_counter)
        return dict(
            await self.post(
                "/customers",
                {"name": name or f"Customer {number}", "email": f"customer{number}@example.com"},
            )
        )

    async def book_response(
        self,
        outlet: dict[str, Any],
        customer: dict[str, Any],
        lines: list[tuple[dict[str, Any], dict[str, Any]]],
        *,
        date: str = MONDAY,
        start: str = "10:00",
        **extra: Any,
    ) -> httpx.Response:
        body = appointment_body(outlet, customer, lines, date=date, start=start, **extra)
        return await self.request("POST", "/appointments", body)

    async def book(
        self,
        outlet: dict[str, Any],
        service: dict[str, Any],
        staff: dict[str, Any],
        *,
        customer: dict[str, Any] | None = None,
        date: str = MONDAY,
        start: str = "10:00",
        expect: int = 201,
        **extra: Any,
    ) -> dict[str, Any]:
        customer = customer or await self.customer()
        response = await self.book_response(
            outlet, customer, [(service, staff)], date=date, start=start, **extra
        )
        assert response.status_code == expect, (
            f"booking {date} {start}: expected {expect}, "
            f"got {response.status_code}: {response.text}"
        )
        return dict(response.json())

    async def cancel(self, appointment: dict[str, Any], *, expect: int = 200) -> dict[str, Any]:
        return dict(await self.put(f"/appointments/{appointment['id']}/cancel", expect=expect))

    async def reschedule(
        self, appointment: dict[str, Any], date: str, start: str, *, expect: int = 200
    ) -> dict[str, Any]:
        return dict(
            await self.put(
                f"/appointments/{appointment['id']}/reschedule",
                {"new_date": date, "new_start_time": start},
                expect=expect,
            )
        )


# Counting statements


@asynccontextmanager
async def counted_statements(app: FastAPI) -> AsyncIterator[list[str]]:
    """Every statement sent to the database while the block runs.

    SQLAlchemy's ``before_cursor_execute`` sees what goes through SQLAlchemy; on
    PostgreSQL the storage layer sends hot statements straight to asyncpg, so the
    connections' asyncpg query loggers are attached too (they log only those direct
    calls and transaction commands, not SQLAlchemy's prepared statements: no statement
    is counted twice). SQLite connections have no query logger.
    """
    statements: list[str] = []
    engine = app.state.database.engine.sync_engine
    drivers: list[Any] = []

    def on_cursor(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def on_driver_query(record: Any) -> None:
        statements.append(record.query)

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if hasattr(driver, "add_query_logger"):
            driver.add_query_logger(on_driver_query)
            drivers.append(driver)

    sa.event.listen(engine, "before_cursor_execute", on_cursor)
    sa.event.listen(engine, "checkout", on_checkout)
    try:
        yield statements
        await asyncio.sleep(0)  # query loggers are called soon after, not during, a query
    finally:
        sa.event.remove(engine, "checkout", on_checkout)
        sa.event.remove(engine, "before_cursor_execute", on_cursor)
        for driver in drivers:
            driver.remove_query_logger(on_driver_query)


def reads(statements: list[str]) -> list[str]:
    """The statements that read rows (no BEGIN, COMMIT, pragma or ping)."""
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]
