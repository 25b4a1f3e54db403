from __future__ import annotations

from tests.support import Api


async def test_a_business_books_a_class(api: Api) -> None:
    await api.signup()
    outlet = await api.outlet()
    yoga = await api.service("Group Yoga Class", parallel=True, capacity=10)
    john = await api.staff("John Smith", outlet, [yoga])
    booked = await api.book(outlet, yoga, john)
    assert booked["status"] == "confirmed"
    assert booked["start_time"] == "10:00:00"
    assert booked["end_time"] == "11:00:00"
    assert booked["services"][0]["staff_name"] == "John Smith"
