"""Every range and format in the contract is answered 422 with a message a person can read."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import Api, unique_email


@pytest.fixture
async def owner(api: Api) -> Api:
    await api.signup()
    return api


def _messages(body: dict[str, Any]) -> str:
    detail = body["detail"]
    if isinstance(detail, str):
        return detail
    return " | ".join(str(error["msg"]) for error in detail)


async def _refused(api: Api, method: str, path: str, body: Any, *, mentions: str, **kw: Any) -> str:
    """Assert a 422 whose readable message names the offending field (or says what is wrong)."""
    response = await api.request(method, path, body, **kw)
    assert response.status_code == 422, f"{method} {path} {body!r}: {response.text}"
    messages = _messages(response.json())
    assert mentions.lower() in messages.lower(), messages
    return messages


def _service(**fields: Any) -> dict[str, Any]:
    return {"name": "Yoga", "duration": 60, **fields}


async def test_service_duration_must_be_5_to_1440_minutes(owner: Api) -> None:
    for duration in (0, 4, 1441, -60):
        await _refused(owner, "POST", "/services", _service(duration=duration), mentions="duration")
    for duration in (5, 1440):
        await owner.post("/services", _service(name=f"Yoga {duration}", duration=duration))
    await _refused(owner, "POST", "/services", _service(slot_interval=0), mentions="slot_interval")


async def test_service_capacity_must_be_1_to_100(owner: Api) -> None:
    for capacity in (0, 101):
        body = _service(allow_parallel_bookings=True, max_parallel_bookings=capacity)
        await _refused(owner, "POST", "/services", body, mentions="max_parallel_bookings")
    service = await owner.post(
        "/services", _service(allow_parallel_bookings=True, max_parallel_bookings=100)
    )
    await _refused(
        owner,
        "PATCH",
        f"/services/{service['id']}",
        {"max_parallel_bookings": 0},
        mentions="max_parallel_bookings",
    )


async def test_prices_are_whole_non_negative_minor_units(owner: Api) -> None:
    await _refused(owner, "POST", "/services", _service(price=-1), mentions="price")
    await _refused(owner, "POST", "/services", _service(price=12.5), mentions="price")
    for pricing in (
        {"type": "FIXED", "base_price": -100, "currency": "USD"},
        {"type": "FIXED", "base_price": 100, "currency": "usd"},
        {"type": "FIXED", "base_price": 100, "currency": "DOLLARS"},
        {"type": "FIXED", "base_price": 100},
        {"type": "PER_HOUR", "base_price": 100, "currency": "USD"},
    ):
        await _refused(owner, "POST", "/services", _service(pricing=pricing), mentions="pricing")


async def test_an_outlet_needs_a_known_time_zone(owner: Api) -> None:
    for timezone in ("Mars/Olympus_Mons", "", "europe/london", "UTC+2"):
        await _refused(
            owner,
            "POST",
            "/outlets",
            {"name": "Main", "timezone": timezone},
            mentions="timezone",
        )
    outlet = await owner.outlet()
    await _refused(
        owner, "PATCH", f"/outlets/{outlet['id']}", {"timezone": "Nowhere"}, mentions="timezone"
    )


async def test_names_may_not_be_empty_or_blank(owner: Api) -> None:
    for name in ("", "   ", "\t\n"):
        await _refused(
            owner, "POST", "/outlets", {"name": name, "timezone": "UTC"}, mentions="name"
        )
        await _refused(owner, "POST", "/services", _service(name=name), mentions="name")
        await _refused(owner, "POST", "/customers", {"name": name}, mentions="name")
    await _refused(owner, "POST", "/customers", {"name": "x" * 201}, mentions="name")


async def test_working_hours_must_be_ordered_and_not_overlap(owner: Api) -> None:
    outlet = await owner.outlet()

    def staff(hours: Any) -> dict[str, Any]:
        return {"name": "John", "outlet_id": outlet["id"], "working_hours": hours}

    for hours, mentions in (
        ({"monday": [{"start": "17:00", "end": "09:00"}]}, "end must be after start"),
        ({"monday": [{"start": "09:00", "end": "09:00"}]}, "end must be after start"),
        (
            {"monday": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "17:00"}]},
            "overlap",
        ),
        ({"funday": [{"start": "09:00", "end": "17:00"}]}, "funday"),
        ({"Monday": [{"start": "09:00", "end": "17:00"}]}, "Monday"),
        ({"monday": [{"start": "9am", "end": "17:00"}]}, "start"),
        ({"monday": [{"start": "24:00", "end": "25:00"}]}, "start"),
        ({"monday": [{"start": "09:00:30", "end": "17:00"}]}, "whole minute"),
        ({"monday": {"start": "09:00", "end": "17:00"}}, "monday"),
        ([], "working_hours"),
    ):
        await _refused(owner, "POST", "/staff", staff(hours), mentions=mentions)
    # Back to back is not an overlap.
    await owner.post(
        "/staff",
        staff({"monday": [{"start": "09:00", "end": "12:00"}, {"start": "12:00", "end": "17:00"}]}),
    )


async def test_list_limits_are_1_to_500(owner: Api) -> None:
    for collection in ("outlets", "services", "staff", "customers"):
        for limit in (0, 501, -1):
            await _refused(
                owner, "GET", f"/{collection}", None, mentions="limit", params={"limit": limit}
            )
        await _refused(
            owner, "GET", f"/{collection}", None, mentions="limit", params={"limit": "ten"}
        )


async def test_signup_checks_password_email_and_currency(api: Api) -> None:
    def signup(**fields: Any) -> dict[str, Any]:
        return {
            "business_name": "Lotus Yoga",
            "email": unique_email(),
            "password": "correct-horse-1",
            **fields,
        }

    await _refused(api, "POST", "/auth/signup", signup(password="short12"), mentions="password")
    for email in ("not-an-email", "a@", "@example.com", ""):
        await _refused(api, "POST", "/auth/signup", signup(email=email), mentions="email")
    for currency in ("usd", "US", "DOLLARS", "12A", ""):
        await _refused(api, "POST", "/auth/signup", signup(currency=currency), mentions="currency")
    await _refused(api, "POST", "/auth/signup", signup(business_name=" "), mentions="business_name")
    await _refused(api, "POST", "/auth/login", {"email": "x@example.com"}, mentions="password")


async def test_new_users_need_a_long_enough_password_and_a_real_email(owner: Api) -> None:
    user = {"email": unique_email(), "password": "correct-horse-1", "name": "Desk", "role": "staff"}
    await _refused(owner, "POST", "/users", {**user, "password": "1234567"}, mentions="password")
    await _refused(owner, "POST", "/users", {**user, "email": "desk"}, mentions="email")
    await _refused(owner, "POST", "/users", {**user, "role": "root"}, mentions="role")


async def test_customer_email_and_phone_formats(owner: Api) -> None:
    await _refused(owner, "POST", "/customers", {"name": "A", "email": "nope"}, mentions="email")
    for phone in ("call me", "12", "+44 7700 900123 ext. 5 please"):
        await _refused(owner, "POST", "/customers", {"name": "A", "phone": phone}, mentions="phone")


async def test_wrong_types_are_named(owner: Api) -> None:
    for body, field in (
        (_service(duration="an hour"), "duration"),
        (_service(duration=60.5), "duration"),
        (_service(allow_parallel_bookings="sometimes"), "allow_parallel_bookings"),
        (_service(name=42), "name"),
        (_service(name=None), "name"),
        ({"duration": 60}, "name"),
        (_service(unknown_field=1), "unknown_field"),
    ):
        await _refused(owner, "POST", "/services", body, mentions=field)
    for body in ([], "yoga", 42, None):
        response = await owner.request("POST", "/services", body)
        assert response.status_code == 422, response.text


async def test_malformed_json_is_a_readable_422(owner: Api) -> None:
    response = await owner.client.post(
        "/api/v1/customers",
        content=b'{"name": "Ana",',
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "json" in _messages(response.json()).lower()
    response = await owner.client.post(
        "/api/v1/customers",
        content=b"name=Ana",
        headers={**owner.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422, response.text
    assert (await owner.get("/customers"))["total"] == 0


async def test_malformed_ids_in_paths_are_simply_not_found(owner: Api) -> None:
    unknown = (await owner.request("GET", "/outlets/unknown", expect=404)).json()
    for path in ("/outlets/%00", "/outlets/" + "x" * 300, "/outlets/%F0%9F%98%80", "/outlets/'"):
        response = await owner.request("GET", path)
        assert response.status_code == 404, f"{path}: {response.text}"
        assert response.json() == unknown
    for path in ("/services/%00", "/staff/%00", "/customers/%00", "/staff/%00/time-off"):
        await owner.request("GET", path, expect=404)


async def test_nul_characters_in_text_are_refused(owner: Api) -> None:
    outlet = await owner.outlet()
    await _refused(owner, "POST", "/customers", {"name": "Ana\u0000"}, mentions="name")
    await _refused(
        owner,
        "POST",
        "/outlets",
        {"name": "Main", "timezone": "UTC", "address": "\u0000"},
        mentions="address",
    )
    await _refused(
        owner,
        "POST",
        "/staff",
        {"name": "John", "outlet_id": "\u0000"},
        mentions="outlet_id",
    )
    await _refused(
        owner,
        "POST",
        "/staff",
        {"name": "John", "outlet_id": outlet["id"], "service_ids": ["a\u0000"]},
        mentions="service_ids",
    )
    await _refused(owner, "GET", "/customers", None, mentions="q", params={"q": "a\x00"})
    await _refused(owner, "GET", "/staff", None, mentions="outlet_id", params={"outlet_id": "\x00"})


# Random bodies never break the server.

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=8,
)
_FIELDS = {
    "/outlets": ("name", "timezone", "address"),
    "/services": (
        "name",
        "duration",
        "price",
        "pricing",
        "slug",
        "category",
        "description",
        "allow_parallel_bookings",
        "max_parallel_bookings",
        "slot_interval",
        "active",
    ),
    "/staff": ("name", "outlet_id", "service_ids", "working_hours", "active"),
    "/customers": ("name", "email", "phone"),
}
_VALID = {
    "/outlets": {"name": "Main", "timezone": "Europe/London"},
    "/services": {"name": "Yoga", "duration": 60},
    "/staff": {"name": "John", "working_hours": {"monday": [{"start": "09:00", "end": "17:00"}]}},
    "/customers": {"name": "Ana"},
}


def _bodies(path: str) -> st.SearchStrategy[Any]:
    """Anything at all, or a valid body with a few fields replaced by anything."""
    overrides = st.dictionaries(st.sampled_from(_FIELDS[path]), st.text() | _json, max_size=2)
    return _json | overrides.map(lambda changed: {**_VALID[path], **changed})


@pytest.fixture
def postgres_if_available(backend: str) -> str:
    """The fuzzing runs once, on PostgreSQL when it is there (stricter about text)."""
    from tests.databases import postgres_admin_url

    if backend == "sqlite" and postgres_admin_url() is not None:
        pytest.skip("fuzzed on PostgreSQL")
    return backend


@pytest.fixture
async def fuzz_outlet(owner: Api, postgres_if_available: str) -> dict[str, Any]:
    return await owner.outlet()


@pytest.mark.parametrize("path", ["/outlets", "/services", "/staff", "/customers"])
@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_bodies_never_get_a_server_error(
    owner: Api, fuzz_outlet: dict[str, Any], path: str, data: st.DataObject
) -> None:
    body = data.draw(_bodies(path), label="body")
    if path == "/staff" and isinstance(body, dict):
        body.setdefault("outlet_id", fuzz_outlet["id"])
    response = await owner.request("POST", path, body)
    assert response.status_code < 500, f"{body!r}: {response.text}"
