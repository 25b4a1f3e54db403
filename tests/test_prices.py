"""Prices: integers in the currency's smallest shown unit (CLDR digits), shown by Babel."""

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest
from babel import Locale
from babel.numbers import list_currencies

from slotbook.money import currency_digits, display_locale, format_price
from tests.scenarios import open_studio
from tests.support import Api

# The brief's and the contract's examples.
EXAMPLES = [(2000, "USD", "$20.00"), (2000, "JPY", "¥2,000"), (150000, "IDR", "Rp150.000")]


# format_price, a pure function


@pytest.mark.parametrize(("amount", "currency", "text"), EXAMPLES)
def test_the_contract_examples(amount: int, currency: str, text: str) -> None:
    assert format_price(amount, currency) == text


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (0, "USD", "$0.00"),
        (1, "USD", "$0.01"),
        (1500, "GBP", "£15.00"),  # the demo's yoga class, in pence
        (0, "JPY", "¥0"),
        (1, "JPY", "¥1"),
        (1234567, "JPY", "¥1,234,567"),
        (1, "IDR", "Rp1"),
        (10**12, "IDR", "Rp1.000.000.000.000"),
        (10**12 + 1, "USD", "$10,000,000,000.01"),  # exact: no float on the way
        (2500, "EUR", "€25.00"),  # no home territory: English
        (150000, "INR", "₹1,500.00"),  # home locale hi_IN is Devanagari: English
        (1500, "KWD", "KWD1.500"),  # three CLDR digits; home locale is Arabic: English
        (1000, "BRL", "R$\xa010,00"),  # home locale pt_BR
        (2000, "CAD", "$20.00"),  # home locale en_CA
    ],
)
def test_format_price(amount: int, currency: str, text: str) -> None:
    assert format_price(amount, currency) == text


def test_the_smallest_unit_is_the_cldr_digits() -> None:
    assert [currency_digits(c) for c in ("USD", "JPY", "IDR", "GBP", "KWD")] == [2, 0, 0, 2, 3]


def test_the_display_locale_rule() -> None:
    """Home territory's locale when written in Latin script, else English."""
    assert display_locale("USD") == Locale.parse("en_US")
    assert display_locale("IDR") == Locale.parse("id_ID")
    assert display_locale("GBP") == Locale.parse("en_GB")
    assert display_locale("JPY") == Locale("en")  # ja_JP would write a full-width ￥
    assert display_locale("EUR") == Locale("en")  # EU is no locale
    assert display_locale("XOF") == Locale("en")  # supranational
    assert display_locale("ZZZ") == Locale("en")  # unknown to Babel


def test_every_currency_babel_knows_formats() -> None:
    for currency in sorted(list_currencies()):
        text = format_price(123456, currency)
        assert text.strip(), currency
        assert any(ch.isdigit() for ch in text), (currency, text)


# Through the API and the public booking page


def _fixed(amount: int, currency: str) -> dict[str, Any]:
    return {"type": "FIXED", "base_price": amount, "currency": currency}


async def test_the_booking_page_shows_each_price_in_its_currency(
    api: Api, client: httpx.AsyncClient
) -> None:
    studio = await open_studio(api, "Prices Studio", currency="USD")
    slug, outlet = studio.slug, studio.outlet
    services = [
        await studio.offer(f"Service {currency}", pricing=_fixed(amount, currency))
        for amount, currency, _ in EXAMPLES
    ]
    free = await studio.offer("Free Trial")
    await studio.hire("John Smith", [*services, free])
    for service, (amount, currency, _) in zip(services, EXAMPLES, strict=True):
        assert service["pricing"] == _fixed(amount, currency)

    page = await api.get(f"/public/{slug}/outlets/{outlet['id']}")
    prices = {s["name"]: s["price"] for s in page["services"]}
    assert prices == {
        **{
            f"Service {currency}": {"amount": amount, "currency": currency, "label": text}
            for amount, currency, text in EXAMPLES
        },
        "Free Trial": None,
    }

    response = await client.get(f"/book/{slug}/{outlet['id']}")
    assert response.status_code == 200, response.text
    body = html.unescape(response.text)
    for _, _, text in EXAMPLES:
        assert f'<span class="service-price">{text}</span>' in body
    assert body.count('class="service-price"') == len(EXAMPLES)  # the free one shows none
    for wrong in ("20.00 USD", "20.00 JPY", "1500.00 IDR", "￥"):
        assert wrong not in body


async def test_the_price_shorthand_is_in_the_tenant_currency_unit(
    api: Api, client: httpx.AsyncClient
) -> None:
    studio = await open_studio(api, "Prices Studio", currency="JPY", timezone="Asia/Tokyo")
    slug, outlet = studio.slug, studio.outlet
    massage = await studio.offer("Massage", price=2000)
    assert massage["pricing"] == _fixed(2000, "JPY")
    await studio.hire("Aiko", [massage])
    page = await api.get(f"/public/{slug}/outlets/{outlet['id']}")
    assert page["services"][0]["price"]["label"] == "¥2,000"
    response = await client.get(f"/book/{slug}/{outlet['id']}")
    assert "¥2,000" in html.unescape(response.text)


async def test_a_price_is_a_whole_non_negative_number_in_a_known_currency(api: Api) -> None:
    await api.signup("Prices Studio", currency="USD")
    for pricing, field in [
        (_fixed(2000, "XYZ"), "currency"),
        (_fixed(2000, "ABC"), "currency"),
        (_fixed(-1, "USD"), "base_price"),
        (_fixed(20.5, "USD"), "base_price"),  # type: ignore[arg-type]
        (_fixed("2000", "USD"), "base_price"),  # type: ignore[arg-type]
        (_fixed(True, "USD"), "base_price"),
    ]:
        response = await api.request(
            "POST", "/services", {"name": "X", "duration": 30, "pricing": pricing}
        )
        assert response.status_code == 422, (pricing, response.text)
        locations = [error["loc"] for error in response.json()["detail"]]
        assert ["body", "pricing", field] in locations, (pricing, response.text)
    service = await api.service("Y", pricing=_fixed(100, "USD"))
    response = await api.request(
        "PATCH", f"/services/{service['id']}", {"pricing": _fixed(100, "XYZ")}
    )
    assert response.status_code == 422, response.text
    assert "currency" in response.text
    for price in (-1, 2.5, "100"):
        response = await api.request(
            "POST", "/services", {"name": "Z", "duration": 30, "price": price}
        )
        assert response.status_code == 422, (price, response.text)


async def test_the_api_documents_the_unit(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    unit = "in the smallest unit the currency is shown in (its CLDR digits)"
    for name in ("Pricing", "PricingIn"):
        assert unit in schemas[name]["properties"]["base_price"]["description"]
    assert unit in schemas["PublicPrice"]["properties"]["amount"]["description"]
