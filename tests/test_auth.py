"""Signing up, logging in, and who may call what."""

from __future__ import annotations

import asyncio
import warnings
from datetime import timedelta
from typing import Any

import httpx
import jwt
from jwt.warnings import InsecureKeyLengthWarning

from tests.conftest import NOW, TEST_SECRET
from tests.support import Api, unique_email

PASSWORD = "correct-horse-1"



def _claims(user_id: str, tenant_id: str, role: str = "owner", **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": user_id,
        "tid": tenant_id,
        "role": role,
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(hours=1)).timestamp()),
    }
    claims.update(overrides)
    return claims


async def _owner(api: Api) -> dict[str, Any]:
    signup = await api.signup()
    me = await api.get("/auth/me")
    assert me["id"] == signup["user"]["id"]
    return signup


async def _staff_api(api: Api) -> Api:
    email = unique_email("desk")
    await api.post(
        "/users", {"email": email, "password": PASSWORD, "name": "Front Desk", "role": "staff"}
    )
    login = await api.post("/auth/login", {"email": email, "password": PASSWORD}, expect=200)
    return api.as_user(login["access_token"])


async def _assert_refused(client: httpx.AsyncClient, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = await client.get("/api/v1/outlets", headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert isinstance(response.json()["detail"], str)


# Signing up and logging in


async def test_signup_answers_the_owner_and_a_working_token(client: httpx.AsyncClient) -> None:
    email = unique_email()
    response = await client.post(
        "/api/v1/auth/signup",
        json={"business_name": "Lotus Yoga", "email": email, "password": PASSWORD, "name": "Ana"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"] == {
        "id": body["user"]["id"],
        "email": email,
        "name": "Ana",
        "role": "owner",
    }
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json() == {
        "id": body["user"]["id"],
        "email": email,
        "name": "Ana",
        "role": "owner",
        "tenant_id": body["tenant_id"],
        "tenant_slug": "lotus-yoga",
    }


async def test_two_businesses_with_the_same_name_get_different_slugs(api: Api) -> None:
    await api.signup("Lotus Yoga")
    first = await api.get("/auth/me")
    await api.signup("Lotus Yoga")
    second = await api.get("/auth/me")
    await api.signup("Café Zürich & Co.")
    third = await api.get("/auth/me")
    assert first["tenant_slug"] == "lotus-yoga"
    assert second["tenant_slug"] not in ("lotus-yoga", "")
    assert second["tenant_slug"].startswith("lotus-yoga")
    assert third["tenant_slug"] == "cafe-zurich-co"
    assert len({first["tenant_id"], second["tenant_id"], third["tenant_id"]}) == 3


async def test_an_email_can_only_sign_up_once(api: Api) -> None:
    email = unique_email()
    await api.signup(email=email)
    again = await api.post(
        "/auth/signup",
        {"business_name": "Other", "email": email.upper(), "password": PASSWORD},
        expect=409,
    )
    assert again["code"] == "email_taken"


async def test_login_answers_a_bearer_token_with_its_lifetime(api: Api) -> None:
    email = unique_email()
    await api.signup(email=email)
    body = await api.post("/auth/login", {"email": email.upper(), "password": PASSWORD}, expect=200)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    me = await api.as_user(body["access_token"]).get("/auth/me")
    assert me["email"] == email


async def test_unknown_email_and_wrong_password_get_the_same_answer(api: Api) -> None:
    email = unique_email()
    await api.signup(email=email)
    wrong = await api.request(
        "POST", "/auth/login", {"email": email, "password": "not-the-password"}, expect=401
    )
    unknown = await api.request(
        "POST", "/auth/login", {"email": unique_email(), "password": PASSWORD}, expect=401
    )
    assert wrong.json() == unknown.json()
    assert wrong.json()["detail"] == "Incorrect email or password"


async def test_the_docs_form_login_works(api: Api, client: httpx.AsyncClient) -> None:
    email = unique_email()
    await api.signup(email=email)
    response = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert response.json()["token_type"] == "bearer"
    assert (await api.as_user(token).get("/auth/me"))["email"] == email
    refused = await client.post(
        "/api/v1/auth/token", data={"username": email, "password": "wrong-password"}
    )
    assert refused.status_code == 401


# Tokens that are refused


async def test_a_request_without_a_token_is_refused(client: httpx.AsyncClient) -> None:
    await _assert_refused(client, None)


async def test_a_garbage_token_is_refused(client: httpx.AsyncClient) -> None:
    await _assert_refused(client, "not-a-jwt")
    await _assert_refused(client, "a.b.c")


async def test_an_expired_token_is_refused(api: Api, client: httpx.AsyncClient) -> None:
    owner = await _owner(api)
    expired = jwt.encode(
        _claims(owner["user"]["id"], owner["tenant_id"], exp=int(NOW.timestamp()) - 1),
        TEST_SECRET,
        algorithm="HS256",
    )
    await _assert_refused(client, expired)
    fresh = jwt.encode(
        _claims(owner["user"]["id"], owner["tenant_id"]), TEST_SECRET, algorithm="HS256"
    )
    assert (await api.as_user(fresh).get("/auth/me"))["id"] == owner["user"]["id"]


async def test_a_token_signed_with_another_key_is_refused(
    api: Api, client: httpx.AsyncClient
) -> None:
    owner = await _owner(api)
    forged = jwt.encode(
        _claims(owner["user"]["id"], owner["tenant_id"]),
        "another-secret-key-of-sufficient-length-0123",
        algorithm="HS256",
    )
    await _assert_refused(client, forged)


async def test_an_unsigned_alg_none_token_is_refused(api: Api, client: httpx.AsyncClient) -> None:
    owner = await _owner(api)
    unsigned = jwt.encode(_claims(owner["user"]["id"], owner["tenant_id"]), None, algorithm="none")
    await _assert_refused(client, unsigned)
    await _assert_refused(client, unsigned.rstrip(".") + ".")


async def test_a_token_of_another_algorithm_is_refused(api: Api, client: httpx.AsyncClient) -> None:
    owner = await _owner(api)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the test secret is short
        hs512 = jwt.encode(
            _claims(owner["user"]["id"], owner["tenant_id"]), TEST_SECRET, algorithm="HS512"
        )
    await _assert_refused(client, hs512)


async def test_a_token_that_claims_another_role_is_refused(
    api: Api, client: httpx.AsyncClient
) -> None:
    owner = await _owner(api)
    desk = await _staff_api(api)
    me = await desk.get("/auth/me")
    promoted = jwt.encode(
        _claims(me["id"], owner["tenant_id"], role="owner"), TEST_SECRET, algorithm="HS256"
    )
    await _assert_refused(client, promoted)


async def test_a_token_for_another_tenant_is_refused(api: Api, client: httpx.AsyncClient) -> None:
    first = await _owner(api)
    second = await _owner(api)
    crossed = jwt.encode(
        _claims(first["user"]["id"], second["tenant_id"]), TEST_SECRET, algorithm="HS256"
    )
    await _assert_refused(client, crossed)


async def test_a_token_missing_claims_is_refused(api: Api, client: httpx.AsyncClient) -> None:
    owner = await _owner(api)
    claims = _claims(owner["user"]["id"], owner["tenant_id"])
    for missing in ("exp", "sub", "tid", "role"):
        partial = {k: v for k, v in claims.items() if k != missing}
        await _assert_refused(client, jwt.encode(partial, TEST_SECRET, algorithm="HS256"))
    odd_role = jwt.encode({**claims, "role": "superuser"}, TEST_SECRET, algorithm="HS256")
    await _assert_refused(client, odd_role)


# Roles


async def test_the_owner_adds_users_who_can_log_in(api: Api) -> None:
    await _owner(api)
    email = unique_email("admin")
    created = await api.post(
        "/users", {"email": email, "password": PASSWORD, "name": "Second Manager", "role": "admin"}
    )
    assert created["role"] == "admin"
    assert created["email"] == email
    assert "password" not in created and "password_hash" not in created
    login = await api.post("/auth/login", {"email": email, "password": PASSWORD}, expect=200)
    admin = api.as_user(login["access_token"])
    assert (await admin.get("/auth/me"))["role"] == "admin"
    await admin.outlet("Admin's Outlet")
    await api.post(
        "/users",
        {"email": email, "password": PASSWORD, "name": "Again", "role": "staff"},
        expect=409,
    )


async def test_nobody_is_made_an_owner_through_users(api: Api) -> None:
    await _owner(api)
    body = {"email": unique_email(), "password": PASSWORD, "name": "Boss", "role": "owner"}
    await api.post("/users", body, expect=422)


async def test_staff_read_the_catalog_but_cannot_change_it(api: Api) -> None:
    await _owner(api)
    outlet = await api.outlet()
    desk = await _staff_api(api)
    assert (await desk.get("/outlets"))["total"] == 1
    await desk.get(f"/outlets/{outlet['id']}")
    refused = await desk.post("/outlets", {"name": "X", "timezone": "Europe/London"}, expect=403)
    assert refused["code"] == "forbidden"
    await desk.patch(f"/outlets/{outlet['id']}", {"name": "Renamed"}, expect=403)
    await desk.post("/services", {"name": "Yoga", "duration": 60}, expect=403)
    await desk.post(
        "/users",
        {"email": unique_email(), "password": PASSWORD, "name": "N", "role": "staff"},
        expect=403,
    )
    # The front desk does manage customers.
    await desk.post("/customers", {"name": "Walk In"})


async def test_no_token_is_refused_before_the_body_is_read(client: httpx.AsyncClient) -> None:
    for body in ({}, {"name": ""}, {"duration": "long"}, [1, 2]):
        response = await client.post("/api/v1/services", json=body)
        assert response.status_code == 401, response.text
    response = await client.post(
        "/api/v1/outlets", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401, response.text


async def test_a_staff_token_is_forbidden_before_the_body_is_read(api: Api) -> None:
    await _owner(api)
    desk = await _staff_api(api)
    for path in ("/outlets", "/services", "/staff", "/users"):
        await desk.post(path, {"nonsense": True}, expect=403)
    response = await desk.client.post(
        "/api/v1/services",
        content=b"{not json",
        headers={**desk.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 403, response.text


async def test_a_bad_query_without_a_token_is_still_refused_as_unauthenticated(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/outlets", params={"limit": 0})
    assert response.status_code == 401, response.text


async def test_businesses_signing_up_at_once_with_one_name_all_get_their_own_slug(
    client: httpx.AsyncClient,
) -> None:
    async def signup() -> httpx.Response:
        body = {"business_name": "Twin Studio", "email": unique_email(), "password": PASSWORD}
        return await client.post("/api/v1/auth/signup", json=body)

    responses = await asyncio.gather(*(signup() for _ in range(4)))
    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    slugs = []
    for response in responses:
        token = response.json()["access_token"]
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        slugs.append(me.json()["tenant_slug"])
    assert len(set(slugs)) == 4
    assert "twin-studio" in slugs


async def test_one_email_signing_up_twice_at_once_gets_one_account(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()

    async def signup(name: str) -> httpx.Response:
        body = {"business_name": name, "email": email, "password": PASSWORD}
        return await client.post("/api/v1/auth/signup", json=body)

    responses = await asyncio.gather(signup("First"), signup("Second"))
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.json()["code"] == "email_taken"
