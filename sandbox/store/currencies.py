"""Currencies of the store (`GET /v2/currencies`): the default one, and those the storefront channels sell in.

Exchange rates are "the amount of this currency equivalent to one unit of the default currency"
(`currency_exchange_rate`, a string, as the v2 API gives it); a non-default currency's price is the price
list record in that currency if one exists, otherwise the default price converted at that rate (FACTS.md).
"""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal

from sandbox.store.common import EPOCH_BASE, Invalid, NotFound, Result
from sandbox.store.state import StoreState

# code: (name, symbol, decimal places, ISO country, units of the currency per US dollar)
CURRENCY_TABLE: dict[str, tuple[str, str, int, str, float]] = {
    "USD": ("US Dollar", "$", 2, "US", 1.0),
    "GBP": ("British Pound", "£", 2, "GB", 0.79),
    "EUR": ("Euro", "€", 2, "EU", 0.92),
    "CAD": ("Canadian Dollar", "$", 2, "CA", 1.36),
    "AUD": ("Australian Dollar", "$", 2, "AU", 1.52),
    "JPY": ("Japanese Yen", "¥", 0, "JP", 149.5),
    "SEK": ("Swedish Krona", "kr", 2, "SE", 10.4),
    "CHF": ("Swiss Franc", "CHF", 2, "CH", 0.88),
}


def default_rate(code: str, default: str) -> float:
    """Units of `code` per unit of `default`, from the table (4 significant decimals)."""
    usd = CURRENCY_TABLE.get(code, (code, code, 2, "", 1.0))[4]
    base = CURRENCY_TABLE.get(default, (default, default, 2, "", 1.0))[4]
    return round(usd / base, 4)


def convert(amount: float, rate: float, decimal_places: int) -> float:
    """`amount` × `rate`, rounded half away from zero to `decimal_places` (what DESIGN.md specifies)."""
    exact = Decimal(str(amount)) * Decimal(str(rate))
    return float(exact.quantize(Decimal(1).scaleb(-decimal_places), rounding=ROUND_HALF_UP))


def rfc2822(ts: float) -> str:
    """The v2 API's date format: Tue, 12 Jun 2018 14:41:56 +0000."""
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(int(ts)))


class Currencies(StoreState):
    """The store's currencies: one default, others with an exchange rate to it."""

    def _init_currencies(self, extra: list[str], rates: dict[str, float]) -> None:
        self._currencies: dict[str, dict] = {}
        for code in [self.currency, *extra]:
            if code in self._currencies:
                continue
            name, token, places, country, _usd = CURRENCY_TABLE.get(code, (code, code, 2, "", 1.0))
            is_default = code == self.currency
            self._currencies[code] = {
                "id": len(self._currencies) + 1,
                "code": code,
                "name": name,
                "token": token,
                "decimal_places": places,
                "country_iso2": country,
                "rate": 1.0 if is_default else float(rates.get(code, default_rate(code, self.currency))),
                "is_default": is_default,
                "enabled": True,
                "updated": EPOCH_BASE,
            }

    def _render_currency(self, c: dict) -> dict:
        return {
            "id": c["id"],
            "is_default": c["is_default"],
            "last_updated": rfc2822(c["updated"]),
            "country_iso2": c["country_iso2"],
            "default_for_country_codes": [c["country_iso2"]] if c["country_iso2"] else [],
            "currency_code": c["code"],
            "currency_exchange_rate": f"{c['rate']:.10f}",
            "name": c["name"],
            "token": c["token"],
            "auto_update": False,
            "decimal_token": ".",
            "decimal_places": c["decimal_places"],
            "token_location": "left",
            "thousands_token": ",",
            "enabled": c["enabled"],
            "is_transactional": c["is_default"],
            "use_default_name": True,
        }

    def currencies(self) -> list[dict]:
        """`GET /v2/currencies`, in id order."""
        with self._lock:
            return [self._render_currency(c) for c in self._currencies.values()]

    def exchange_rate(self, code: str) -> float:
        with self._lock:
            if code not in self._currencies:
                raise NotFound(f"currency {code}")
            return self._currencies[code]["rate"]

    def set_exchange_rate(self, code: str, rate: float) -> Result:
        """Change a non-default currency's rate (the control panel, or auto-update). Fires nothing: the docs
        name `store/channel/{id}/settings/currency/updated` but give it no payload, so the sandbox does not
        invent one; a client learns of new rates by reading /v2/currencies again."""
        with self._lock:
            c = self._currencies.get(code)
            if c is None:
                raise NotFound(f"currency {code}")
            if c["is_default"]:
                raise Invalid(
                    "the default currency's rate is always 1", {"currency_exchange_rate": "default"}
                )
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0:
                raise Invalid("the rate must be a positive number", {"currency_exchange_rate": "invalid"})
            c["rate"] = float(rate)
            c["updated"] = int(self.clock())
            entity = self._render_currency(c)
        return self._emit([], entity)
