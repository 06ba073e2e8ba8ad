"""Money: the provider's price per megapixel, and estimated costs shown in dollars.

Why integers: a cost is width × height × images × price. With the price held in
micro-dollars per megapixel (at most six decimals, which any real price has), that
product is an exact whole number of pico-dollars (10^-12 USD). The store records and
sums those integers, so totals never drift the way summed floats do, and a per-day
chart, the period's total and the CSV export all agree to the last digit. Only
display rounds (to cents, half up).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

__all__ = [
    "PICO_PER_USD",
    "Price",
    "PriceError",
    "cents",
    "dollars",
    "exact_usd",
    "usd",
]

PICO_PER_USD: Final = 10**12
MICRO_PER_USD: Final = 10**6
PIXELS_PER_MEGAPIXEL: Final = 10**6
MAX_PRICE_USD: Final = Decimal(100)
_CENT: Final = Decimal("0.01")


class PriceError(ValueError):
    """A price that cannot be used; the message says why, for the owner."""


@dataclass(frozen=True)
class Price:
    """The estimated price of one megapixel, in micro-dollars (0.025 USD → 25000)."""

    micro_usd_per_megapixel: int

    @classmethod
    def parse(cls, text: str) -> Price:
        """``"0.025"`` (dollars per megapixel; a leading ``$`` is allowed) → a price."""
        raw = text.strip().removeprefix("$").strip()
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise PriceError(f"must be dollars per megapixel such as 0.025, got {text!r}") from None
        if not value.is_finite() or value < 0:
            raise PriceError(f"must be a positive amount such as 0.025, got {text!r}")
        if value > MAX_PRICE_USD:
            raise PriceError(f"must be at most {MAX_PRICE_USD} dollars per megapixel, got {text!r}")
        micro = value * MICRO_PER_USD
        if micro != micro.to_integral_value():
            raise PriceError(f"can have at most six decimals, got {text!r}")
        return cls(int(micro))

    def cost_pico_usd(self, width: int, height: int, images: int) -> int:
        """The exact cost of ``images`` images of width × height, in pico-dollars.

        The store computes the same product in SQL when a row settles; this is the one
        Python statement of it (the demo and the tests use it).
        """
        return width * height * images * self.micro_usd_per_megapixel

    def text(self) -> str:
        """``$0.025 per megapixel``, as ``check`` shows it."""
        return f"${exact_usd(self.micro_usd_per_megapixel * PIXELS_PER_MEGAPIXEL)} per megapixel"


def usd(pico: int) -> Decimal:
    """Pico-dollars as an exact Decimal number of dollars."""
    return Decimal(pico) / PICO_PER_USD


def exact_usd(pico: int) -> str:
    """Every digit, no exponent, no trailing zeros: ``0.0196608`` (the CSV's ``cost_usd``)."""
    text = format(usd(pico), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def cents(pico: int) -> Decimal:
    """Dollars rounded to the cent, half up: the one rounding every display of money makes
    (``dollars`` here, the locale's currency format in the cogs)."""
    return usd(pico).quantize(_CENT, rounding=ROUND_HALF_UP)


def dollars(pico: int) -> str:
    """``$0.10``: rounded to the cent, half up; a tiny non-zero amount shows as ``<$0.01``."""
    rounded = cents(pico)
    if pico > 0 and rounded == 0:
        return "<$0.01"
    return f"${rounded:,}"
