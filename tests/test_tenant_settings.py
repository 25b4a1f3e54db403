"""The owner renames the business and changes its slug, the key of its public pages."""

from __future__ import annotations

from tests.support import Api, unique_email


async def test_owner_changes_the_slug_and_the_booking_page_follows(api: Api) -> None:
    await api.signup("Lotus Yoga")
    outlet = await api.outlet()
    assert (await api.get("/tenant"))["slug"] == "lotus-yoga"
    await api.request("GET", f"/public/lotus-yoga/outlets/{outlet['id']}", expect=200)

    changed = await api.patch("/tenant", {"slug": "lotus-studio", "name": "Lotus Studio"})
    assert (changed["slug"], changed["name"]) == ("lotus-studio", "Lotus Studio")
    assert (await api.get("/auth/me"))["tenant_slug"] == "lotus-studio"
    await api.request("GET", f"/public/lotus-studio/outlets/{outlet['id']}", expect=200)
    await api.request("GET", f"/public/lotus-yoga/outlets/{outlet['id']}", expect=404)
    page = await api.client.get(f"/book/lotus-studio/{outlet['id']}")
    assert page.status_code == 200


async def test_another_business_slug_is_taken(api: Api) -> None:
    await api.signup("Lotus Yoga")
    rival = Api(api.client)
    await rival.signup("Rival Pilates")
    refused = await rival.patch("/tenant", {"slug": "lotus-yoga"}, expect=409)
    assert refused["code"] == "slug_taken"
    assert (await rival.get("/tenant"))["slug"] == "rival-pilates"


async def test_only_the_owner_changes_the_business(api: Api) -> None:
    await api.signup("Lotus Yoga")
    for role in ("admin", "staff"):
        email = unique_email(role)
        await api.post(
            "/users", {"email": email, "password": "long-enough-1", "name": role, "role": role}
        )
        login = await api.post(
            "/auth/login", {"email": email, "password": "long-enough-1"}, expect=200
        )
        other = api.as_user(login["access_token"])
        assert (await other.get("/tenant"))["slug"] == "lotus-yoga"
        await other.patch("/tenant", {"slug": "mine-now"}, expect=403)


async def test_slug_must_be_lowercase_words_joined_by_hyphens(api: Api) -> None:
    await api.signup("Lotus Yoga")
    for bad in ("", "Lotus", "lotus yoga", "-lotus", "lotus--yoga", "a" * 81):
        await api.patch("/tenant", {"slug": bad}, expect=422)
    await api.patch("/tenant", {"slug": None}, expect=422)
    assert (await api.get("/tenant"))["slug"] == "lotus-yoga"
