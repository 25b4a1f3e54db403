"""Prices: integers in the smallest unit a currency is shown in, formatted with Babel.

A price is stored and sent as an integer count of the currency's smallest *shown* unit,
its CLDR digits as ``babel.numbers.get_currency_precision`` gives them: USD 2000 is
$20.00 (cents), JPY 2000 is ¥2,000 (whole yen), IDR 150000 is Rp150.000 (whole rupiah).
Nothing divides by 100: the digits come from CLDR, the text from ``format_price``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_territory_currencies,
    is_currency,
)

FALLBACK_LOCALE = Locale("en")


def currency_digits(currency: str) -> int:
    """How many decimals the currency is shown with (CLDR): 2 for USD, 0 for JPY and IDR."""
    return int(get_currency_precision(currency))


def known_currency(code: str) -> str:
    """A validator: the code must be an ISO 4217 currency CLDR knows (so Babel can show it)."""
    if not is_currency(code):
        raise ValueError(f"unknown ISO 4217 currency code {code!r}, e.g. 'USD'")
    return code


@cache
def display_locale(currency: str) -> Locale:
    """The locale a price in ``currency`` is written in, whatever the page's language.

    The rule: the locale of the currency's home territory, for the symbol and separators
    people there read (Rp150.000 in Indonesia, R$ 10,00 in Brazil), when that locale's
    language is written in Latin script; otherwise, and when the currency has no home
    territory, English (``en``). The pages are English text, so a home locale in another
    script (Japanese full-width ￥, Arabic, Devanagari, Cyrillic symbols) would not sit in
    them; English then gives the international symbol (¥2,000, ₹1,500.00) or the code.

    The home territory is the ISO 3166 code that begins an ISO 4217 code (US for USD,
    JP for JPY), provided CLDR lists the currency as tender there at some time; the
    locale is CLDR's likely one for that territory (und_ID -> id_ID). EUR (EU is no
    locale), supranational X-codes (XOF, XAU) and codes Babel does not know fall back.
    """
    territory = currency[:2]
    try:
        tender = get_territory_currencies(territory, start_date=date.min, end_date=date.max)
        if currency not in tender:
            return FALLBACK_LOCALE
        home = Locale.parse(f"und_{territory}")
    except (ValueError, UnknownLocaleError):
        return FALLBACK_LOCALE
    script = home.script or _likely_script(home.language)
    return home if script == "Latn" else FALLBACK_LOCALE


def _likely_script(language: str) -> str | None:
    likely = get_global("likely_subtags").get(language)
    if not likely:
        return None
    parts = likely.split("_")
    return parts[1] if len(parts) > 2 else None


def format_price(amount: int, currency: str) -> str:
    """The text a person sees for ``amount`` smallest shown units of ``currency``.

    >>> format_price(2000, "USD"), format_price(2000, "JPY"), format_price(150000, "IDR")
    ('$20.00', '¥2,000', 'Rp150.000')
    """
    value = Decimal(amount).scaleb(-currency_digits(currency))
    return str(
        format_currency(value, currency, locale=display_locale(currency), currency_digits=True)
    )
