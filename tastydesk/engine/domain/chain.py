"""Option chain domain: contracts, expirations, live quotes and greeks.

Prices are Decimal; greeks and implied volatility stay float (they are model outputs, not money).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from tastydesk.engine.domain.enums import OptionType


def occ_symbol(root: str, expiry: date, option_type: OptionType, strike: Decimal) -> str:
    """OCC symbol as tastytrade writes it: root padded to 6, YYMMDD, C/P, strike x1000 in 8 digits."""
    cp = "C" if option_type is OptionType.CALL else "P"
    return f"{root:<6}{expiry:%y%m%d}{cp}{int(strike * 1000):08d}"


def streamer_symbol(root: str, expiry: date, option_type: OptionType, strike: Decimal) -> str:
    """DXLink symbol, e.g. ``.SPY260619C600`` or ``.SPY260619P602.5``."""
    cp = "C" if option_type is OptionType.CALL else "P"
    strike_txt = format(strike.normalize(), "f")
    return f".{root}{expiry:%y%m%d}{cp}{strike_txt}"


def parse_occ(symbol: str) -> tuple[str, date, OptionType, Decimal]:
    """Inverse of :func:`occ_symbol`; raises ValueError naming the symbol when malformed."""
    if len(symbol) != 21:
        raise ValueError(f"not an OCC option symbol: {symbol!r}")
    root = symbol[:6].strip()
    try:
        expiry = datetime.strptime(symbol[6:12], "%y%m%d").date()
        option_type = {"C": OptionType.CALL, "P": OptionType.PUT}[symbol[12]]
        strike = Decimal(int(symbol[13:])) / 1000
    except (KeyError, ValueError) as exc:
        raise ValueError(f"not an OCC option symbol: {symbol!r}") from exc
    return root, expiry, option_type, strike


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str  # streamer symbol for options, ticker for underlyings
    bid: Decimal
    ask: Decimal
    time: datetime
    bid_size: int = 0
    ask_size: int = 0

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid


@dataclass(frozen=True, slots=True)
class Greeks:
    symbol: str
    price: float  # theoretical
    iv: float
    delta: float
    gamma: float
    theta: float  # per calendar day, per share
    vega: float  # per 1 vol point, per share
    rho: float
    time: datetime


@dataclass(frozen=True, slots=True)
class OptionContract:
    symbol: str  # OCC
    streamer_symbol: str
    underlying: str
    expiry: date
    strike: Decimal
    option_type: OptionType
    quote: Quote | None = None
    greeks: Greeks | None = None
    open_interest: int = 0
    volume: int = 0


@dataclass(frozen=True, slots=True)
class Strike:
    price: Decimal
    call: OptionContract
    put: OptionContract

    def contract(self, option_type: OptionType) -> OptionContract:
        return self.call if option_type is OptionType.CALL else self.put


@dataclass(frozen=True, slots=True)
class Expiration:
    date: date
    dte: int
    monthly: bool
    settlement: str = "PM"
    strikes: tuple[Strike, ...] = ()  # ascending by price


@dataclass(frozen=True, slots=True)
class UnderlyingInfo:
    symbol: str
    price: Decimal
    iv_rank: Decimal = Decimal("0")  # 0..100
    iv: float = 0.0  # 30-day implied volatility index, annualised
    beta: float = 1.0
    liquidity: int = 3  # 0..4
    earnings: date | None = None
    dividend_yield: float = 0.0
    trend: float = 0.0  # signed strength in -1..1 (e.g. 20d vs 50d moving-average spread)
    ex_dividend_date: date | None = None  # next ex-dividend date, when announced or modelled
    dividend_amount: Decimal = Decimal("0")  # per share, paid on that date


@dataclass(frozen=True, slots=True)
class OptionChain:
    underlying: UnderlyingInfo
    expirations: tuple[Expiration, ...]  # ascending by date
    as_of: datetime
    rate: float = 0.04
    _by_symbol: dict[str, OptionContract] = field(default_factory=dict, compare=False, repr=False)

    def contract(self, symbol: str) -> OptionContract | None:
        if not self._by_symbol:
            for exp in self.expirations:
                for s in exp.strikes:
                    self._by_symbol[s.call.symbol] = s.call
                    self._by_symbol[s.put.symbol] = s.put
        return self._by_symbol.get(symbol)
