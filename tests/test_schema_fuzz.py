"""Schema-driven fuzzing of every operation in /openapi.json, as a signed-in tenant owner.

Checks: no 5xx, every status and body matches the documented schema, every error has a
``detail``. Real ids (of an outlet, service, staff member, customer, appointment, time
off) are swapped into about half the generated paths and bodies, so the fuzz reaches
past the 404s and 422s of unknown ids.

Bounded by default (a few examples per operation); ``SLOTBOOK_FUZZ_PROFILE=long``
(``make fuzz``) runs many more. Runs in-process on SQLite, and on PostgreSQL too when
SLOTBOOK_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks

from slotbook.app import create_app
from slotbook.settings import Settings
from tests.conftest import TEST_SECRET
from tests.databases import PostgresDatabase, SqliteTemplate, postgres_admin_url
from tests.support import EVERY_DAY_8_TO_22, appointment_body

with warnings.catch_warnings():
    # Starlette asks for httpx2 (not installed); its test client, which schemathesis uses
    # for ASGI apps, works with httpx. The warning is raised once, on import.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

LONG = os.environ.get("SLOTBOOK_FUZZ_PROFILE", "").lower() == "long"
# Bounded so that the whole suite stays well inside CI's time on a slow machine (every
# operation on both databases); `make fuzz` runs the long profile.
MAX_EXAMPLES = 300 if LONG else 8
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
ID_FIELDS = (
    "outlet_id",
    "service_id",
    "staff_id",
    "customer_id",
    "appointment_id",
    "time_off_id",
    "user_id",
)


@dataclass
class Tenant:
    client: TestClient
    headers: dict[str, str]
    ids: dict[str, str]


def _set_up_tenant(client: TestClient) -> Tenant:
    if True:

        def post(path: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
            response = client.post(f"/api/v1{path}", json=body, headers=headers)
            assert response.status_code == 201, response.text
            return dict(response.json())

        signup = post(
            "/auth/signup",
            {
                "business_name": "Fuzz Studio",
                "email": "fuzz-owner@example.com",
                "password": "correct-horse-1",
            },
            {},
        )
        headers = {"Authorization": f"Bearer {signup['access_token']}"}
        outlet = post("/outlets", {"name": "Main", "timezone": "Europe/London"}, headers)
        service = post(
            "/services",
            {
                "name": "Yoga",
                "duration": 60,
                "allow_parallel_bookings": True,
                "max_parallel_bookings": 5,
            },
            headers,
        )
        staff = post(
            "/staff",
            {
                "name": "Coach",
                "outlet_id": outlet["id"],
                "service_ids": [service["id"]],
                "working_hours": EVERY_DAY_8_TO_22,
            },
            headers,
        )
        customer = post("/customers", {"name": "Ann", "email": "ann@example.com"}, headers)
        time_off = post(
            f"/staff/{staff['id']}/time-off",
            {"start": "2030-01-01T08:00:00", "end": "2030-01-01T12:00:00"},
            headers,
        )
        appointment = post(
            "/appointments",
            appointment_body(outlet, customer, [(service, staff)], date="2030-01-07"),
            headers,
        )
    ids = {
        "outlet_id": outlet["id"],
        "service_id": service["id"],
        "staff_id": staff["id"],
        "customer_id": customer["id"],
        "appointment_id": appointment["id"],
        "time_off_id": time_off["id"],
        "user_id": signup["user"]["id"],
    }
    return Tenant(client, headers, ids)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def tenant(
    request: pytest.FixtureRequest, sqlite_template: SqliteTemplate, tmp_path_factory: Any
) -> Iterator[Tenant]:
    postgres: PostgresDatabase | None = None
    if request.param == "sqlite":
        url = sqlite_template.fresh_url()
    else:
        admin_url = postgres_admin_url()
        if admin_url is None:
            pytest.skip("the PostgreSQL fuzz needs SLOTBOOK_TEST_POSTGRES_URL")
        postgres = PostgresDatabase(admin_url)
        asyncio.run(postgres.create())
        url = postgres.url
    var_dir: Path = tmp_path_factory.mktemp("fuzz-var")
    app = create_app(
        Settings(
            database_url=url,
            secret_key=TEST_SECRET,
            var_dir=var_dir,
            log_level="WARNING",
            public_rate_limit_per_minute=1_000_000,
        )
    )
    try:
        # One client (one event loop) for the module: the app's pool lives on it.
        with TestClient(app, raise_server_exceptions=False) as client:
            yield _set_up_tenant(client)
    finally:
        if postgres is not None:
            asyncio.run(postgres.drop())


def _documented_schema() -> dict[str, Any]:
    """The app's OpenAPI document (building the app opens no database connection)."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", secret_key=TEST_SECRET))
    return app.openapi()


schema = schemathesis.openapi.from_dict(_documented_schema())


def _coin(*parts: Any) -> bool:
    """A deterministic coin flip from the case itself, so failures replay."""
    return hashlib.sha256(repr(parts).encode()).digest()[0] % 2 == 0


def _real_ids(case: Any, ids: dict[str, str]) -> None:
    path_parameters = case.path_parameters or {}
    if path_parameters and _coin(case.path, sorted(path_parameters.items())):
        for name in path_parameters:
            if name in ids:
                path_parameters[name] = ids[name]
    body = case.body
    if isinstance(body, dict) and _coin(case.path, case.method, repr(body)):
        for name in ID_FIELDS:
            if name in body:
                body[name] = ids[name]
        lines = body.get("services")
        if isinstance(lines, list):
            for line in lines:
                if isinstance(line, dict):
                    for name in ("service_id", "staff_id"):
                        if name in line:
                            line[name] = ids[name]
        if "service_ids" in body and isinstance(body["service_ids"], list):
            body["service_ids"] = [ids["service_id"]]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not LONG,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented_and_never_with_a_server_error(
    case: Any, tenant: Tenant
) -> None:
    _real_ids(case, tenant.ids)
    headers = dict(tenant.headers)
    if case.operation.path.startswith("/api/v1/auth/") and case.method == "POST":
        headers = {}  # signup, login and token take no token
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    cookies = kwargs.pop("cookies", None)
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")  # requests-style raw body, httpx-style
    if cookies:
        kwargs["headers"]["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    response = tenant.client.request(**kwargs)
    case.validate_response(response, checks=CHECKS, headers=headers)
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict), f"{response.status_code}: {response.text[:300]}"
        assert "detail" in body, f"{response.status_code} without detail: {response.text[:300]}"
