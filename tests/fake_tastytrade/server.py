"""In-process fake of the tastytrade API, account streamer and DXLink, with a fault-injection API.

The real ``tastytrade`` SDK talks to it through ``InProcessTransport`` (ASGI websocket transport),
so REST, the account streamer and DXLink all run in the test's event loop with production URLs.
Control methods are plain Python calls:

* orders and faults: ``fill``, ``add_order``, ``inject``, ``reject_next``, ``drop_stream``,
  ``silence_stream``, ``expire_access_tokens``, ``revoke_refresh_token``;
* market data: ``push_quote``, ``push_greeks``; DXLink answers Quote, Greeks, Summary (open
  interest) and daily Candle subscriptions from the deterministic market;
* market rules, enforced on dry run and place as tastytrade does: at most 4 legs, distinct leg
  symbols, prices on the underlying's tick table (``option-tick-sizes`` for one leg, pennies for
  spreads), Day orders only while the market is open; ``close_market`` expires working Day
  orders (status Expired, pushed) and keeps GTC orders working; ``open_market``;
* order lookups as tastytrade answers them: ``/orders/live`` lists the orders created or
  updated today (server time) and every order still working (an old GTC order included); the
  history honours ``start-date``/``end-date``; an order by id is found whatever its age;
* cancels: confirmed at once by default; after ``defer_cancels()`` a cancel answers
  ``Cancel Requested`` (the order may still fill) until ``confirm_cancels()`` ends them;
* lifecycle, booked in the transaction history and pushed as position and balance updates:
  ``add_position``, ``assign``, ``exercise``, ``expire``, ``pay_dividend`` (call them before
  the broker connects for what happened while the app was closed).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import secrets
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fake_tastytrade import dxevents as dx
from tests.fake_tastytrade import instruments as ins
from tests.fake_tastytrade import payloads as p
from tests.fake_tastytrade.history import Ledger
from tests.fake_tastytrade.market import VOLS, FakeMarket

DXLINK_URL = "wss://dxlink.fake-tastytrade.test/realtime"
WORKING = {"Received", "Routed", "In Flight", "Live", "Contingent"}
#: Still at the exchange: working, or asked to cancel and not confirmed yet (it may fill).
LIVE = WORKING | {"Cancel Requested"}
_CLOSE = object()

CHANNEL_TYPES = ("Candle", "Greeks", "Profile", "Quote", "Summary", "TheoPrice", "TimeAndSale",
                 "Trade", "Underlying")


@dataclass(eq=False)
class _Conn:
    kind: str  # "account" | "dxlink"
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    silenced: bool = False
    accounts: list[str] = field(default_factory=list)
    authorized: bool = False
    channels: dict[int, str] = field(default_factory=dict)  # channel -> event type
    fields: dict[str, list[str]] = field(default_factory=dict)  # event type -> requested order
    subs: set[tuple[str, str]] = field(default_factory=set)  # (event type, symbol)
    heartbeats: int = 0
    added: list[int] = field(default_factory=list)  # entries per FEED_SUBSCRIPTION add


class FakeTastytrade:
    """State, HTTP routes and websockets of a small tastytrade."""

    def __init__(self, *, provider_secret: str = "provider-secret-XYZ",
                 refresh_token: str = "refresh-token-ABC", account_number: str = "5WT00001",
                 today: date | None = None, now: Callable[[], datetime] | None = None,
                 token_lifetime: int = 900, hang_seconds: float = 30.0,
                 dx_keepalive: float = 0.2, cash: Decimal = Decimal("100000")) -> None:
        self._clock = now or (lambda: datetime.now(UTC))
        self._skipped = timedelta(0)  # time moved forward by next_session()
        self.provider_secret = provider_secret
        self.refresh_token = refresh_token
        self.account_number = account_number
        self.token_lifetime = token_lifetime
        self.hang_seconds = hang_seconds
        self.dx_keepalive = dx_keepalive
        self.market = FakeMarket(today or self._now().date())
        self.cash = cash
        self.maintenance = Decimal("0")
        self.orders: dict[int, dict[str, Any]] = {}
        self.ledger = Ledger(account_number)
        self.market_open = True  # Day orders are refused while False
        self.positions: dict[str, dict[str, Any]] = {}  # symbol -> {qty, avg, underlying}
        self.access_tokens: set[str] = set()
        self.issued_tokens: list[str] = []  # every access and quote token ever issued
        self.quote_tokens: set[str] = set()
        self.revoked = False
        self.calls: list[tuple[str, str]] = []
        self.user_agents: set[str] = set()
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.rejections: dict[str, deque[tuple[str, bool]]] = defaultdict(deque)
        self.refused: set[str] = set()  # stream kinds refusing connections
        self.connects: dict[str, int] = defaultdict(int)
        self._conns: set[_Conn] = set()
        self._order_ids = itertools.count(1001)
        self.cancels_deferred = False  # see defer_cancels()
        self._fill_ids = itertools.count(1)
        self.app = Starlette(routes=self._routes())

    # ------------------------------------------------------------------ control API
    def inject(self, op: str, *faults: str) -> None:
        """Queue faults for the next calls of ``op``: 429, 500, timeout, timeout_after_accept,
        disconnect_after_accept, bad_json."""
        self.faults[op].extend(faults)

    def reject_next(self, op: str, reason: str, *, as_status: bool = False) -> None:
        """Reject the next ``place``/``replace``/``cancel``/``dry_run`` with an API error, or
        (``as_status``, place only) accept it into status Rejected."""
        self.rejections[op].append((reason, as_status))

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def revoke_refresh_token(self) -> None:
        self.revoked = True
        self.access_tokens.clear()

    def drop_stream(self, kind: str, code: int = 1011, refuse: bool = False) -> None:
        """Close every ``kind`` socket ("account" | "dxlink"); ``refuse`` keeps new ones out."""
        if refuse:
            self.refused.add(kind)
        for conn in list(self._conns):
            if conn.kind == kind:
                conn.queue.put_nowait((_CLOSE, code))

    def restore_stream(self, kind: str) -> None:
        self.refused.discard(kind)

    def silence_stream(self, kind: str) -> None:
        """Open sockets of ``kind`` stop sending anything (data, acks, keepalives)."""
        for conn in self._conns:
            if conn.kind == kind:
                conn.silenced = True

    def open_streams(self, kind: str) -> int:
        return sum(1 for c in self._conns if c.kind == kind and not c.silenced)

    def heartbeats(self) -> int:
        return sum(c.heartbeats for c in self._conns if c.kind == "account")

    def count(self, method: str, path_suffix: str) -> int:
        return sum(1 for m, path in self.calls if m == method and path.endswith(path_suffix))

    def push_quote(self, symbol: str, bid: Decimal, ask: Decimal, bid_size: int = 10,
                   ask_size: int = 10) -> None:
        now_ms = int(self._now().timestamp() * 1000)
        self._push("Quote", symbol, {
            "eventSymbol": symbol, "eventTime": 0, "sequence": 0, "timeNanoPart": 0,
            "bidTime": now_ms, "bidExchangeCode": "Q", "askTime": now_ms, "askExchangeCode": "Q",
            "bidPrice": float(bid), "askPrice": float(ask), "bidSize": float(bid_size),
            "askSize": float(ask_size)})

    def push_greeks(self, symbol: str, *, price: float, iv: float, delta: float,
                    gamma: float = 0.01, theta: float = -0.05, vega: float = 0.1,
                    rho: float = 0.01) -> None:
        now_ms = int(self._now().timestamp() * 1000)
        self._push("Greeks", symbol, {
            "eventSymbol": symbol, "eventTime": 0, "eventFlags": 0, "index": 0, "time": now_ms,
            "sequence": 0, "price": price, "volatility": iv, "delta": delta, "gamma": gamma,
            "theta": theta, "rho": rho, "vega": vega})

    def add_order(self, legs: list[dict[str, Any]], price: Decimal, status: str = "Live",
                  external_id: str | None = None, source: str = "tastytrade-web") -> dict[str, Any]:
        """Create an order server-side (as if placed elsewhere)."""
        return self._create_order(legs, price, external_id, source, status=status)

    def fill(self, order_id: int | str, quantity: int | None = None,
             leg_prices: dict[str, Decimal] | None = None) -> dict[str, Any]:
        """Fill ``quantity`` spread units (default: the rest) at the legs' mids (or given)."""
        order = self.orders[int(order_id)]
        if order["status"] not in LIVE:
            raise ValueError(f"order {order_id} is {order['status']}, cannot fill")
        size = int(order["size"])
        remaining_units = min(int(Decimal(leg["remaining-quantity"])) * size
                              // int(Decimal(leg["quantity"])) for leg in order["legs"])
        units = remaining_units if quantity is None else quantity
        if not 0 < units <= remaining_units:
            raise ValueError(f"fill quantity {units} outside 1..{remaining_units}")
        now = self._now()
        for leg in order["legs"]:
            ratio = int(Decimal(leg["quantity"])) // size
            qty = ratio * units
            price = (leg_prices or {}).get(leg["symbol"]) or self.market.mid(leg["symbol"])
            leg["fills"].append({
                "fill-id": f"FILL-{next(self._fill_ids)}", "quantity": str(qty),
                "fill-price": p.money(price), "filled-at": p.iso(now),
                "destination-venue": "FAKE"})
            leg["remaining-quantity"] = str(int(Decimal(leg["remaining-quantity"])) - qty)
            sign = 1 if leg["action"].startswith("Buy") else -1
            self._apply_position(leg["symbol"], order["underlying-symbol"], sign * qty, price)
            self.cash -= sign * price * qty * 100
            self.ledger.add(kind="Trade", sub_type=leg["action"], at=now,
                            description=f"{'Bought' if sign > 0 else 'Sold'} {qty} "
                                        f"{leg['symbol'].strip()} @ {p.money(price)}",
                            value=-sign * price * qty * 100, symbol=leg["symbol"],
                            underlying=order["underlying-symbol"],
                            instrument_type="Equity Option", action=leg["action"],
                            quantity=qty, price=price, order_id=order["id"])
        if all(int(Decimal(leg["remaining-quantity"])) == 0 for leg in order["legs"]):
            order["status"] = "Filled"
            order["terminal-at"] = p.iso(now)
            order["cancellable"] = order["editable"] = False
        order["updated-at"] = p.iso(now)
        self.maintenance += abs(Decimal(order["price"])) * 100 * units
        self._notify("Order", order)
        for leg in order["legs"]:
            self._notify("CurrentPosition", self._position_json(leg["symbol"]))
        self._notify("AccountBalance", self._balance_json())
        return order

    def defer_cancels(self) -> None:
        """From now on a cancel is only requested: the order answers ``Cancel Requested`` (still
        working, it may fill) until :meth:`confirm_cancels`, as an exchange confirms a cancel
        after tastytrade accepted the request."""
        self.cancels_deferred = True

    def confirm_cancels(self) -> list[int]:
        """The exchange confirms every requested cancel (status Cancelled, pushed); cancels are
        confirmed at once again. Returns the ids of the orders cancelled."""
        self.cancels_deferred = False
        now = p.iso(self._now())
        ended = []
        for order in self.orders.values():
            if order["status"] == "Cancel Requested":
                order.update({"status": "Cancelled", "cancelled-at": now, "terminal-at": now,
                              "updated-at": now})
                self._notify("Order", order)
                ended.append(order["id"])
        return ended

    def now(self) -> datetime:
        """The server's clock (moved forward by :meth:`next_session`)."""
        return self._now()

    def close_market(self) -> None:
        """The session closes: working Day orders expire (as tastytrade reports them, status
        Expired, pushed on the account streamer); GTC orders keep working; new Day orders are
        refused until :meth:`open_market`."""
        self.market_open = False
        now = p.iso(self._now())
        for order in self.orders.values():
            if order["status"] in WORKING and order["time-in-force"] == "Day":
                order.update({"status": "Expired", "terminal-at": now, "updated-at": now,
                              "cancellable": False, "editable": False})
                self._notify("Order", order)

    def open_market(self) -> None:
        self.market_open = True

    def next_session(self) -> None:
        """The next day's session opens: the server's clock moves a day forward (fills and
        timestamps from now on carry the new time) and the market opens."""
        self._skipped += timedelta(days=1)
        self.open_market()

    def _now(self) -> datetime:
        return self._clock() + self._skipped

    def add_position(self, symbol: str, quantity: int, price: Decimal) -> None:
        """Hold a position opened elsewhere (an option by OCC symbol, or shares)."""
        listing = self.market.listing(symbol)
        underlying = listing.root if listing is not None else symbol
        self._apply_position(symbol, underlying, quantity, price)
        self._notify("CurrentPosition", self._position_json(symbol))

    def assign(self, symbol: str, contracts: int | None = None,
               at: datetime | None = None) -> list[dict[str, Any]]:
        """Assign a short option (default: all of it): the removal row and the share delivery
        at the strike, as tastytrade books them; pushed on the account streamer."""
        return self._settle(symbol, "Assignment", contracts, at)

    def exercise(self, symbol: str, contracts: int | None = None,
                 at: datetime | None = None) -> list[dict[str, Any]]:
        """Exercise a long option: removal row and share delivery at the strike."""
        return self._settle(symbol, "Exercise", contracts, at)

    def expire(self, symbol: str, at: datetime | None = None) -> list[dict[str, Any]]:
        """Remove an option worthless at expiration (value 0)."""
        return self._settle(symbol, "Expiration", None, at)

    def pay_dividend(self, symbol: str, per_share: Decimal,
                     at: datetime | None = None) -> dict[str, Any]:
        """Credit (long shares) or charge (short shares) a dividend on ``symbol``."""
        shares = self.positions.get(symbol, {}).get("qty", 0)
        if not shares:
            raise ValueError(f"no shares of {symbol} held")
        amount = per_share * shares
        self.cash += amount
        row = self.ledger.add(kind="Money Movement", sub_type="Dividend",
                              description=f"ORDINARY DIVIDEND~{symbol}",
                              at=at or self._now(), value=amount, symbol=symbol,
                              underlying=symbol, instrument_type="Equity",
                              quantity=abs(shares), price=per_share)
        self._notify("AccountBalance", self._balance_json())
        return row

    def _settle(self, symbol: str, how: str, contracts: int | None,
                at: datetime | None) -> list[dict[str, Any]]:
        listing = self.market.listing(symbol)
        held = self.positions.get(symbol, {}).get("qty", 0)
        if listing is None or not held:
            raise ValueError(f"no position in option {symbol}")
        if (how == "Assignment" and held > 0) or (how == "Exercise" and held < 0):
            raise ValueError(f"{how.lower()} needs a {'short' if how == 'Assignment' else 'long'}"
                             f" position in {symbol}, held {held}")
        count = contracts or abs(held)
        when = at or self._now()
        closing = "Buy to Close" if held < 0 else "Sell to Close"
        rows = [self.ledger.add(
            kind="Receive Deliver", sub_type=how,
            description=f"Removal of option due to {how.lower()}", at=when, value=Decimal("0"),
            symbol=listing.occ, underlying=listing.root, instrument_type="Equity Option",
            action=closing, quantity=count, price=Decimal("0"))]
        self._apply_position(listing.occ, listing.root, count if held < 0 else -count,
                             Decimal("0"))
        if how != "Expiration":
            # A short call assigned or a long put exercised delivers shares; the others take them.
            buys = (listing.cp == "P") == (how == "Assignment")
            shares = 100 * count * (1 if buys else -1)
            stock = self.positions.get(listing.root, {}).get("qty", 0)
            opening = stock == 0 or (stock > 0) == buys
            action = ("Buy" if buys else "Sell") + (" to Open" if opening else " to Close")
            value = -listing.strike * shares
            self.cash += value
            rows.append(self.ledger.add(
                kind="Receive Deliver", sub_type=action,
                description=f"{'Bought' if buys else 'Sold'} {abs(shares)} {listing.root} @ "
                            f"{p.money(listing.strike)}",
                at=when, value=value, symbol=listing.root, underlying=listing.root,
                instrument_type="Equity", action=action, quantity=abs(shares),
                price=listing.strike))
            self._apply_position(listing.root, listing.root, shares, listing.strike)
            self._notify("CurrentPosition", self._position_json(listing.root))
        self._notify("CurrentPosition", self._position_json(listing.occ))
        self._notify("AccountBalance", self._balance_json())
        return rows

    # ------------------------------------------------------------------ state helpers
    def _apply_position(self, symbol: str, underlying: str, delta: int, price: Decimal) -> None:
        pos = self.positions.get(symbol)
        if pos is None or pos["qty"] == 0:
            self.positions[symbol] = {"qty": delta, "avg": price, "underlying": underlying,
                                      "mult": 100 if len(symbol) == 21 else 1}
            return
        qty = pos["qty"] + delta
        if qty == 0:
            pos["qty"] = 0
        elif (pos["qty"] > 0) == (delta > 0):
            pos["avg"] = (pos["avg"] * abs(pos["qty"]) + price * abs(delta)) / abs(qty)
            pos["qty"] = qty
        else:
            pos["qty"] = qty

    def _position_json(self, symbol: str) -> dict[str, Any]:
        pos = self.positions[symbol]
        return p.position(self.account_number, symbol, pos["underlying"], pos["qty"], pos["avg"],
                          self.market.mid(symbol), self._now(), pos["mult"])

    def _balance_json(self) -> dict[str, Any]:
        marks = sum((Decimal(pos["qty"]) * self.market.mid(sym) * pos["mult"]
                     for sym, pos in self.positions.items()), Decimal("0"))
        nlv = self.cash + marks
        bp = nlv - self.maintenance
        return p.balance(self.account_number, self.cash, nlv, bp, self.maintenance, self._now())

    def _create_order(self, legs: list[dict[str, Any]], price: Decimal, external_id: str | None,
                      source: str | None, status: str = "Live",
                      reject_reason: str | None = None,
                      replaces: int | None = None, tif: str = "Day") -> dict[str, Any]:
        now = self._now()
        quantities = [int(Decimal(str(leg["quantity"]))) for leg in legs]
        size = math.gcd(*quantities)
        order: dict[str, Any] = {
            "id": next(self._order_ids), "account-number": self.account_number,
            "time-in-force": tif, "order-type": "Limit", "size": str(size),
            "underlying-symbol": legs[0]["symbol"][:6].strip(),
            "underlying-instrument-type": "Equity", "status": status,
            "cancellable": status in WORKING, "editable": status in WORKING, "edited": False,
            "received-at": p.iso(now), "updated-at": p.iso(now),
            "legs": [{"instrument-type": "Equity Option", "symbol": leg["symbol"],
                      "action": leg["action"], "quantity": str(q), "remaining-quantity": str(q),
                      "fills": []} for leg, q in zip(legs, quantities, strict=True)],
            **p.signed(price, "price"),
        }
        if external_id is not None:
            order["external-identifier"] = external_id
        if source is not None:
            order["source"] = source
        if reject_reason is not None:
            order["reject-reason"] = reject_reason
            order["terminal-at"] = p.iso(now)
        if replaces is not None:
            order["replaces-order-id"] = replaces
        self.orders[order["id"]] = order
        return order

    def _notify(self, kind: str, data: dict[str, Any]) -> None:
        message = {"type": kind, "data": json.loads(json.dumps(data)),
                   "timestamp": int(self._now().timestamp() * 1000)}
        for conn in self._conns:
            if conn.kind == "account" and self.account_number in conn.accounts:
                conn.queue.put_nowait(message)

    def _push(self, event_type: str, symbol: str, values: dict[str, Any]) -> None:
        for conn in self._conns:
            if conn.kind == "dxlink" and (event_type, symbol) in conn.subs:
                conn.queue.put_nowait(self._feed_data(conn, event_type, [values]))

    @staticmethod
    def _feed_data(conn: _Conn, event_type: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        order = conn.fields[event_type]
        flat: list[Any] = []
        for values in events:
            flat.extend(values.get(name, 0) for name in order)
        channel = next(ch for ch, t in conn.channels.items() if t == event_type)
        return {"type": "FEED_DATA", "channel": channel, "data": [event_type, flat]}

    def _snapshot(self, event_type: str, symbol: str) -> dict[str, Any] | None:
        return dx.snapshot(self.market, event_type, symbol, int(self._now().timestamp() * 1000))

    # ------------------------------------------------------------------ HTTP plumbing
    def _routes(self) -> list[Any]:
        acct = "/accounts/{acct}"
        return [
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/customers/me", self._customer),
            Route("/customers/me/accounts", self._accounts),
            Route("/customers/me/accounts/{acct}", self._account),
            Route(acct + "/balances/{currency}", self._balances),
            Route(acct + "/positions", self._positions),
            Route(acct + "/orders/live", self._live_orders),
            Route(acct + "/orders/dry-run", self._dry_run, methods=["POST"]),
            Route(acct + "/orders", self._orders_root, methods=["GET", "POST"]),
            Route(acct + "/orders/{order_id:int}", self._order,
                  methods=["GET", "PUT", "DELETE"]),
            Route(acct + "/transactions", self._transactions),
            Route("/instruments/equities/{symbol}", self._equity),
            Route("/option-chains/{symbol}/nested", self._chain),
            Route("/market-metrics", self._metrics),
            Route("/market-data/by-type", self._market_data),
            Route("/api-quote-tokens", self._quote_token),
            WebSocketRoute("/", self._account_ws),
            WebSocketRoute("/realtime", self._dxlink_ws),
        ]

    async def _pre(self, request: Request, op: str, auth: bool = True) -> Response | None:
        """Log the call, apply pre-request faults and the bearer check."""
        self.calls.append((request.method, request.url.path))
        self.user_agents.add(request.headers.get("user-agent", ""))
        queue = self.faults[op]
        if queue and queue[0] in {"429", "500", "timeout", "bad_json"}:
            fault = queue.popleft()
            if fault == "429":
                return Response(status_code=429)
            if fault == "500":
                return PlainTextResponse("<html>502 Bad Gateway</html>", status_code=502)
            if fault == "bad_json":
                return PlainTextResponse("{not json", status_code=200)
            await asyncio.sleep(self.hang_seconds)
        if auth:
            header = request.headers.get("authorization", "")
            token = header.removeprefix("Bearer ").strip()
            if token not in self.access_tokens:
                return JSONResponse(p.error("token_invalid", "This token is invalid or has "
                                            "expired"), status_code=401)
        return None

    async def _post(self, op: str) -> None:
        """Faults that strike after the server already acted."""
        queue = self.faults[op]
        if queue and queue[0] in {"timeout_after_accept", "disconnect_after_accept"}:
            fault = queue.popleft()
            if fault == "timeout_after_accept":
                await asyncio.sleep(self.hang_seconds)
            else:
                raise ConnectionResetError("connection reset after the request was processed")

    @staticmethod
    def _ok(data: Any, status: int = 200) -> JSONResponse:
        return JSONResponse({"data": data, "context": "/fake"}, status_code=status)

    def _check_account(self, request: Request) -> Response | None:
        if request.path_params["acct"] != self.account_number:
            return JSONResponse(p.error("not_permitted", "User not permitted access"), 403)
        return None

    # ------------------------------------------------------------------ REST handlers
    async def _token(self, request: Request) -> Response:
        if (bad := await self._pre(request, "token", auth=False)) is not None:
            return bad
        body = await request.json()
        if body.get("client_secret") != self.provider_secret:
            return JSONResponse({"error_code": "invalid_client",
                                 "error_description": "Client authentication failed"}, 401)
        if self.revoked or body.get("refresh_token") != self.refresh_token:
            return JSONResponse({"error_code": "invalid_grant",
                                 "error_description": "Grant revoked or invalid"}, 400)
        token = "at-" + secrets.token_hex(12)
        self.access_tokens.add(token)
        self.issued_tokens.append(token)
        return JSONResponse({"access_token": token, "expires_in": self.token_lifetime,
                             "token_type": "Bearer"})

    async def _customer(self, request: Request) -> Response:
        return await self._pre(request, "customer") or self._ok(p.customer())

    async def _accounts(self, request: Request) -> Response:
        if (bad := await self._pre(request, "accounts")) is not None:
            return bad
        item = {"account": p.account(self.account_number, self._now()), "authority-level": "owner"}
        return self._ok({"items": [item]})

    async def _account(self, request: Request) -> Response:
        bad = await self._pre(request, "accounts") or self._check_account(request)
        return bad or self._ok(p.account(self.account_number, self._now()))

    async def _balances(self, request: Request) -> Response:
        bad = await self._pre(request, "balances") or self._check_account(request)
        return bad or self._ok(self._balance_json())

    async def _positions(self, request: Request) -> Response:
        bad = await self._pre(request, "positions") or self._check_account(request)
        if bad:
            return bad
        items = [self._position_json(s) for s, pos in self.positions.items() if pos["qty"]]
        return self._ok({"items": items})

    async def _live_orders(self, request: Request) -> Response:
        """tastytrade's live orders: every order created or updated today, whatever its status,
        and every order still working (a GTC order placed days ago included)."""
        bad = await self._pre(request, "live_orders") or self._check_account(request)
        if bad:
            return bad
        today = self._now().date()
        items = [o for o in self.orders.values()
                 if o["status"] in LIVE
                 or _day(o["received-at"]) == today or _day(o["updated-at"]) == today]
        return self._ok({"items": items})

    async def _orders_root(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._place(request)
        bad = await self._pre(request, "history") or self._check_account(request)
        if bad:
            return bad
        per_page = int(request.query_params.get("per-page", "50"))
        offset = int(request.query_params.get("page-offset", "0"))
        # start-date / end-date: the orders last updated within the range (an order that
        # ended before the range is left out).
        start = request.query_params.get("start-date")
        end = request.query_params.get("end-date")
        items = sorted((o for o in self.orders.values()
                        if (start is None or _day(o["updated-at"]) >= date.fromisoformat(start))
                        and (end is None or _day(o["updated-at"]) <= date.fromisoformat(end))),
                       key=lambda o: o["id"], reverse=True)
        pages = max(1, math.ceil(len(items) / per_page))
        chunk = items[offset * per_page:(offset + 1) * per_page]
        return JSONResponse({"data": {"items": chunk}, "context": "/fake",
                             "pagination": {"per-page": per_page, "page-offset": offset,
                                            "item-offset": offset * per_page,
                                            "total-items": len(items), "total-pages": pages}})

    def _validate_order(self, body: dict[str, Any]) -> Response | None:
        """tastytrade's order checks: legs present, listed and distinct, at most four; the
        price on the underlying's tick; Day orders only while the market is open."""
        legs = body.get("legs") or []
        if not legs:
            return JSONResponse(p.error("validation_error", "legs is missing"), 400)
        for leg in legs:
            if self.market.listing(leg.get("symbol", "")) is None:
                return JSONResponse(p.error("invalid_symbol",
                                            f"Symbol {leg.get('symbol')} is not tradeable"), 400)
        if len(legs) > ins.MAX_LEGS:
            return JSONResponse(p.error(
                "too_many_legs", f"Orders may have at most {ins.MAX_LEGS} legs"), 422)
        if len({leg["symbol"] for leg in legs}) != len(legs):
            return JSONResponse(p.error("duplicate_legs",
                                        "Each leg must have a distinct symbol"), 422)
        if body.get("time-in-force", "Day") == "Day" and not self.market_open:
            return JSONResponse(p.error(
                "market_closed", "Day orders may only be placed during market hours"), 422)
        root = self.market.listing(legs[0]["symbol"]).root  # type: ignore[union-attr]
        return self._check_price(root, len(legs), self._price(body))

    def _check_price(self, root: str, leg_count: int, price: Decimal) -> Response | None:
        table = ins.option_ticks(root) if leg_count == 1 else ({"value": "0.01"},)
        tick = ins.tick_for(table, price)
        if price % tick != 0:
            return JSONResponse(p.error(
                "invalid_price_increment",
                f"Price {format(abs(price), 'f')} is not a multiple of the tick size {tick} "
                f"for {root} options"), 422)
        return None

    @staticmethod
    def _price(body: dict[str, Any]) -> Decimal:
        price = Decimal(str(body["price"]))
        return -price if body.get("price-effect") == "Debit" else price

    def _bp_change(self, legs: list[dict[str, Any]], price: Decimal) -> Decimal:
        quantities = [int(Decimal(str(leg["quantity"]))) for leg in legs]
        size = math.gcd(*quantities)
        strikes = [self.market.listing(leg["symbol"]).strike for leg in legs]  # type: ignore[union-attr]
        width = max(strikes) - min(strikes) if len(strikes) > 1 else Decimal("0")
        if price < 0:
            return price * 100 * size
        return -(max(width - price, price) * 100 * size)

    async def _dry_run(self, request: Request) -> Response:
        bad = await self._pre(request, "dry_run") or self._check_account(request)
        if bad:
            return bad
        body = await request.json()
        if (invalid := self._validate_order(body)) is not None:
            return invalid
        if self.rejections["dry_run"]:
            reason, _ = self.rejections["dry_run"].popleft()
            return JSONResponse(p.error("preflight_check_failure", reason), 422)
        price = self._price(body)
        legs = body["legs"]
        order = self._create_order(legs, price, body.get("external-identifier"),
                                   body.get("source"), status="Received")
        del self.orders[order.pop("id")]
        contracts = sum(int(Decimal(str(leg["quantity"]))) for leg in legs)
        warnings = []
        if abs(price) < Decimal("0.05"):
            warnings.append({"code": "price_too_low", "message": "Price is below 0.05"})
        return self._ok({
            "order": order,
            "buying-power-effect": p.buying_power_effect(self._bp_change(legs, price),
                                                         self.cash - self.maintenance),
            "fee-calculation": p.fees(len(legs), contracts), "warnings": warnings})

    async def _place(self, request: Request) -> Response:
        bad = await self._pre(request, "place") or self._check_account(request)
        if bad:
            return bad
        body = await request.json()
        if (invalid := self._validate_order(body)) is not None:
            return invalid
        price = self._price(body)
        legs = body["legs"]
        status, reason = "Routed", None
        if self.rejections["place"]:
            reason, as_status = self.rejections["place"].popleft()
            if not as_status:
                return JSONResponse(p.error("preflight_check_failure", reason), 422)
            status = "Rejected"
        order = self._create_order(legs, price, body.get("external-identifier"),
                                   body.get("source"), status=status, reject_reason=reason,
                                   tif=body.get("time-in-force", "Day"))
        self._notify("Order", order)
        if status == "Routed":
            order["status"] = "Live"
            order["live-at"] = p.iso(self._now())
            self._notify("Order", order)
        contracts = sum(int(Decimal(str(leg["quantity"]))) for leg in legs)
        response = self._ok({
            "order": {**order, "status": status},
            "buying-power-effect": p.buying_power_effect(self._bp_change(legs, price),
                                                         self.cash - self.maintenance),
            "fee-calculation": p.fees(len(legs), contracts), "warnings": []}, status=201)
        await self._post("place")
        return response

    async def _order(self, request: Request) -> Response:
        op = {"GET": "get_order", "PUT": "replace", "DELETE": "cancel"}[request.method]
        bad = await self._pre(request, op) or self._check_account(request)
        if bad:
            return bad
        order = self.orders.get(request.path_params["order_id"])
        if order is None:
            return JSONResponse(p.error("record_not_found", "Order not found"), 404)
        if request.method == "GET":
            return self._ok(order)
        if request.method == "DELETE":
            return await self._cancel(order)
        return await self._replace(order, await request.json())

    async def _cancel(self, order: dict[str, Any]) -> Response:
        if self.rejections["cancel"]:
            reason, _ = self.rejections["cancel"].popleft()
            return JSONResponse(p.error("order_not_cancellable", reason), 422)
        if order["status"] not in WORKING:
            return JSONResponse(p.error("order_not_cancellable",
                                        f"Order is {order['status']}"), 422)
        now = p.iso(self._now())
        if self.cancels_deferred:
            order.update({"status": "Cancel Requested", "updated-at": now,
                          "cancellable": False, "editable": False})
        else:
            order.update({"status": "Cancelled", "cancelled-at": now, "terminal-at": now,
                          "updated-at": now, "cancellable": False, "editable": False})
        self._notify("Order", order)
        response = self._ok(order)
        await self._post("cancel")
        return response

    async def _replace(self, order: dict[str, Any], body: dict[str, Any]) -> Response:
        if self.rejections["replace"]:
            reason, _ = self.rejections["replace"].popleft()
            return JSONResponse(p.error("order_not_editable", reason), 422)
        if order["status"] not in WORKING:
            return JSONResponse(p.error("order_not_editable", f"Order is {order['status']}"),
                                422)
        if any(leg["fills"] for leg in order["legs"]):
            return JSONResponse(p.error("order_not_editable", "Order is partially filled"), 422)
        legs = [{"symbol": leg["symbol"], "action": leg["action"], "quantity": leg["quantity"]}
                for leg in order["legs"]]
        if (invalid := self._check_price(order["underlying-symbol"], len(legs),
                                         self._price(body))) is not None:
            return invalid
        new = self._create_order(legs, self._price(body),
                                 body.get("external-identifier", order.get("external-identifier")),
                                 body.get("source", order.get("source")), replaces=order["id"],
                                 tif=body.get("time-in-force", order["time-in-force"]))
        now = p.iso(self._now())
        order.update({"status": "Cancelled", "cancelled-at": now, "terminal-at": now,
                      "updated-at": now, "cancellable": False, "editable": False,
                      "replacing-order-id": new["id"]})
        self._notify("Order", order)
        self._notify("Order", new)
        response = self._ok(new)
        await self._post("replace")
        return response

    async def _transactions(self, request: Request) -> Response:
        bad = await self._pre(request, "transactions") or self._check_account(request)
        if bad:
            return bad
        per_page = int(request.query_params.get("per-page", "250"))
        offset = int(request.query_params.get("page-offset", "0"))
        rows = self.ledger.select(request.query_params)
        pages = max(1, math.ceil(len(rows) / per_page))
        chunk = rows[offset * per_page:(offset + 1) * per_page]
        return JSONResponse({"data": {"items": chunk}, "context": "/fake",
                             "pagination": {"per-page": per_page, "page-offset": offset,
                                            "item-offset": offset * per_page,
                                            "total-items": len(rows), "total-pages": pages}})

    async def _equity(self, request: Request) -> Response:
        if (bad := await self._pre(request, "instrument")) is not None:
            return bad
        symbol = request.path_params["symbol"]
        if symbol not in self.market.spots:
            return JSONResponse(p.error("record_not_found", f"Equity {symbol} not found"), 404)
        return self._ok(ins.equity(symbol, 1000 + sorted(self.market.spots).index(symbol)))

    async def _chain(self, request: Request) -> Response:
        if (bad := await self._pre(request, "chain")) is not None:
            return bad
        symbol = request.path_params["symbol"]
        if symbol not in self.market.spots:
            return JSONResponse(p.error("not_found", f"No chain for {symbol}"), 404)
        expirations = []
        for exp in self.market.expirations(symbol):
            strikes = [{"strike-price": format(k, "f"),
                        "call": self.market_occ(symbol, exp, "C", k),
                        "put": self.market_occ(symbol, exp, "P", k),
                        "call-streamer-symbol": self.market_streamer(symbol, exp, "C", k),
                        "put-streamer-symbol": self.market_streamer(symbol, exp, "P", k)}
                       for k in self.market.strikes(symbol)]
            expirations.append({
                "expiration-type": "Regular" if self.market.is_monthly(exp) else "Weekly",
                "expiration-date": exp.isoformat(),
                "days-to-expiration": (exp - self.market.today).days,
                "settlement-type": "PM", "strikes": strikes})
        item = {"underlying-symbol": symbol, "root-symbol": symbol,
                "option-chain-type": "Standard", "shares-per-contract": 100,
                "tick-sizes": list(ins.option_ticks(symbol)),
                "expirations": expirations}
        return self._ok({"items": [item]})

    @staticmethod
    def market_occ(root: str, exp: date, cp: str, strike: Decimal) -> str:
        from tests.fake_tastytrade.market import occ

        return occ(root, exp, cp, strike)

    @staticmethod
    def market_streamer(root: str, exp: date, cp: str, strike: Decimal) -> str:
        from tests.fake_tastytrade.market import streamer

        return streamer(root, exp, cp, strike)

    async def _metrics(self, request: Request) -> Response:
        if (bad := await self._pre(request, "metrics")) is not None:
            return bad
        symbols = [s for s in request.query_params.get("symbols", "").split(",") if s]
        now = self._now()
        earnings = self.market.today + timedelta(days=20)
        items = [p.market_metric(s, VOLS.get(s, 0.2), now, earnings if s == "AAPL" else None,
                                 ins.PROFILES[s].beta if s in ins.PROFILES else "1.0",
                                 ins.dividend_fields(s, self.market.today))
                 for s in symbols if s in self.market.spots]
        return self._ok({"items": items})

    async def _market_data(self, request: Request) -> Response:
        if (bad := await self._pre(request, "market_data")) is not None:
            return bad
        items = []
        now = self._now()
        for key, kind in (("equity", "Equity"), ("equity-option", "Equity Option"),
                          ("index", "Index")):
            for symbol in request.query_params.getlist(key):
                try:
                    bid, ask = self.market.quote(symbol)
                except KeyError:
                    continue
                items.append(p.market_data(symbol, kind, bid, ask, now))
        return self._ok({"items": items})

    async def _quote_token(self, request: Request) -> Response:
        if (bad := await self._pre(request, "quote_token")) is not None:
            return bad
        token = "dx-" + secrets.token_hex(12)
        self.quote_tokens.add(token)
        self.issued_tokens.append(token)
        return self._ok({"token": token, "dxlink-url": DXLINK_URL, "level": "api"})

    # ------------------------------------------------------------------ websockets
    async def _serve(self, ws: WebSocket, conn: _Conn, reader: Callable[..., Any]) -> None:
        self.connects[conn.kind] += 1
        if conn.kind in self.refused:
            await ws.close(code=1013)
            return
        await ws.accept()
        self._conns.add(conn)

        async def write() -> None:
            while True:
                timeout = self.dx_keepalive if conn.kind == "dxlink" else None
                try:
                    item = await asyncio.wait_for(conn.queue.get(), timeout)
                except TimeoutError:
                    item = {"type": "KEEPALIVE", "channel": 0}
                if isinstance(item, tuple) and item and item[0] is _CLOSE:
                    await ws.close(code=item[1])
                    return
                if not conn.silenced:
                    await ws.send_text(json.dumps(item))

        writer = asyncio.ensure_future(write())
        reading = asyncio.ensure_future(reader(ws, conn))
        try:
            await asyncio.wait({writer, reading}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._conns.discard(conn)
            for task in (writer, reading):
                task.cancel()
            await asyncio.gather(writer, reading, return_exceptions=True)

    async def _account_ws(self, ws: WebSocket) -> None:
        await self._serve(ws, _Conn("account"), self._account_reader)

    async def _account_reader(self, ws: WebSocket, conn: _Conn) -> None:
        try:
            while True:
                msg = json.loads(await ws.receive_text())
                if conn.silenced:
                    continue
                request_id = msg.get("request-id")
                token = str(msg.get("auth-token", "")).removeprefix("Bearer ").strip()
                if token not in self.access_tokens:
                    conn.queue.put_nowait({"status": "error", "action": msg.get("action"),
                                           "message": "invalid-auth-token",
                                           "request-id": request_id})
                    continue
                action = msg.get("action")
                if action == "connect":
                    conn.accounts = list(msg.get("value") or [])
                elif action == "heartbeat":
                    conn.heartbeats += 1
                conn.queue.put_nowait({"status": "ok", "action": action,
                                       "web-socket-session-id": "fake-session",
                                       "value": msg.get("value"), "request-id": request_id})
        except WebSocketDisconnect:
            return

    async def _dxlink_ws(self, ws: WebSocket) -> None:
        await self._serve(ws, _Conn("dxlink"), self._dxlink_reader)

    async def _dxlink_reader(self, ws: WebSocket, conn: _Conn) -> None:
        try:
            while True:
                msg = json.loads(await ws.receive_text())
                if conn.silenced:
                    continue
                kind = msg.get("type")
                channel = msg.get("channel", 0)
                if kind == "SETUP":
                    conn.queue.put_nowait({"type": "SETUP", "channel": 0, "version": "fake",
                                           "keepaliveTimeout": 60, "acceptKeepaliveTimeout": 60})
                    conn.queue.put_nowait({"type": "AUTH_STATE", "channel": 0,
                                           "state": "UNAUTHORIZED"})
                elif kind == "AUTH":
                    if msg.get("token") in self.quote_tokens:
                        conn.authorized = True
                        conn.queue.put_nowait({"type": "AUTH_STATE", "channel": 0,
                                               "state": "AUTHORIZED", "userId": "fake"})
                    else:
                        conn.queue.put_nowait({"type": "ERROR", "channel": 0,
                                               "error": "UNAUTHORIZED",
                                               "message": "invalid token"})
                elif kind == "CHANNEL_REQUEST" and conn.authorized:
                    conn.channels[channel] = CHANNEL_TYPES[(channel - 1) // 2]
                    conn.queue.put_nowait({"type": "CHANNEL_OPENED", "channel": channel,
                                           "service": "FEED",
                                           "parameters": msg.get("parameters", {})})
                elif kind == "FEED_SETUP":
                    for event_type, names in (msg.get("acceptEventFields") or {}).items():
                        conn.fields[event_type] = list(names)
                        conn.channels[channel] = event_type
                    conn.queue.put_nowait({"type": "FEED_CONFIG", "channel": channel,
                                           "dataFormat": "COMPACT",
                                           "eventFields": msg.get("acceptEventFields")})
                elif kind == "FEED_SUBSCRIPTION":
                    self._dx_subscription(conn, msg)
        except WebSocketDisconnect:
            return

    def _dx_subscription(self, conn: _Conn, msg: dict[str, Any]) -> None:
        if msg.get("add"):
            conn.added.append(len(msg["add"]))
        for entry in msg.get("remove") or []:
            conn.subs.discard((entry["type"], entry["symbol"]))
        snapshots: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in msg.get("add") or []:
            key = (entry["type"], entry["symbol"])
            conn.subs.add(key)
            if entry["type"] == "Candle":
                if "Candle" in conn.fields:
                    snapshots["Candle"].extend(
                        dx.candles(self.market, entry["symbol"], int(entry.get("fromTime", 0))))
                continue
            snap = self._snapshot(*key)
            if snap is not None and entry["type"] in conn.fields:
                snapshots[entry["type"]].append(snap)
        for event_type, events in snapshots.items():
            conn.queue.put_nowait(self._feed_data(conn, event_type, events))


def _day(stamp: str) -> date:
    """The date of one of the fake's ISO timestamps (UTC)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).date()
