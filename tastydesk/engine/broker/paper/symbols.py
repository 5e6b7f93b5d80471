"""Option symbols of the paper market: OCC and DXLink streamer symbols parsed into keys.

A key names the underlying (by its index in the market), the series and the strike, with both
spellings of the symbol, so pricing, listing and the broker agree on one contract whichever
spelling they were given. Only contracts the market could list parse: a known underlying, an
expiration day, a positive strike quoted to the cent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from tastydesk.engine.broker.paper.decimals import plain
from tastydesk.engine.broker.paper.listing import is_expiration_day
from tastydesk.engine.clock import MarketCalendar
from tastydesk.engine.domain.chain import occ_symbol, parse_occ, streamer_symbol
from tastydesk.engine.domain.enums import OptionType

_STREAMER_RE = re.compile(r"^\.([A-Z0-9/]{1,6})(\d{6})([CP])(\d+(?:\.\d+)?)$")
_MAX_KEYS = 200_000


@dataclass(frozen=True, slots=True)
class OptionKey:
    """A parsed option: which underlying, series and strike."""

    index: int
    root: str
    expiry: date
    option_type: OptionType
    strike: Decimal
    strike_f: float
    occ: str
    streamer: str


def parse_streamer(symbol: str) -> tuple[str, date, OptionType, Decimal] | None:
    """``.SPY260619P602.5`` -> (root, expiry, type, strike), or None when it is not one."""
    m = _STREAMER_RE.match(symbol)
    if m is None:
        return None
    root, ymd, cp, strike_txt = m.groups()
    try:
        expiry = datetime.strptime(ymd, "%y%m%d").date()
    except ValueError:
        return None
    return root, expiry, OptionType.CALL if cp == "C" else OptionType.PUT, Decimal(strike_txt)


class SymbolTable:
    """Symbol -> :class:`OptionKey` (or None), memoised: the same legs are asked for all day."""

    def __init__(self, index: dict[str, int], calendar: MarketCalendar) -> None:
        self._index = index
        self._calendar = calendar
        self._keys: dict[str, OptionKey | None] = {}

    def key(self, symbol: str) -> OptionKey | None:
        if symbol in self._keys:
            return self._keys[symbol]
        key = self._parse(symbol)
        if len(self._keys) > _MAX_KEYS:
            self._keys.clear()
        self._keys[symbol] = key
        return key

    def _parse(self, symbol: str) -> OptionKey | None:
        if not isinstance(symbol, str):
            return None
        if symbol.startswith("."):
            parsed = parse_streamer(symbol)
            if parsed is None:
                return None
        else:
            try:
                parsed = parse_occ(symbol)
            except ValueError:
                return None
        root, expiry, option_type, strike = parsed
        i = self._index.get(root)
        if i is None or strike <= 0 or not is_expiration_day(self._calendar, expiry):
            return None
        if strike != strike.quantize(Decimal("0.01")):
            return None  # strikes are quoted to the cent
        strike = plain(strike)
        return OptionKey(i, root, expiry, option_type, strike, float(strike),
                         occ_symbol(root, expiry, option_type, strike),
                         streamer_symbol(root, expiry, option_type, strike))
