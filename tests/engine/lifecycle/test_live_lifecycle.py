"""The engine on the tastytrade adapter (real SDK) against the fake tastytrade server: an
assignment and an expiration that happened while the app was closed are booked at start-up,
before positions are compared; an assignment on the account streamer during a session changes
the workflow as it arrives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tastydesk.engine.bootstrap import open_kernel
from tastydesk.engine.domain.enums import WorkflowState
from tastydesk.engine.domain.lifecycle import LifecycleKind
from tastydesk.engine.store.guard import LOOP_GUARD
from tastydesk.engine.store.service import Store
from tests.fake_tastytrade import FakeTastytrade, InProcessTransport
from tests.fake_tastytrade.market import occ

D = Decimal


@pytest.fixture
async def fake() -> AsyncIterator[FakeTastytrade]:
    server = FakeTastytrade(dx_keepalive=0.1, hang_seconds=30.0)
    transport = InProcessTransport(server.app)
    await transport.start()
    server.transport = transport  # type: ignore[attr-defined]
    yield server
    await transport.aclose()


def option(fake: FakeTastytrade, root: str, cp: str, index: int) -> str:
    market = fake.market
    expiry = next(e for e in market.expirations(root) if (e - market.today).days >= 7)
    return occ(root, expiry, cp, market.strikes(root)[index])


async def login(tmp_path: Path, fake: FakeTastytrade) -> dict[str, Any]:
    from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore

    kwargs = {"transport": fake.transport}  # type: ignore[attr-defined]
    creds = KeyringCredentialStore()
    accounts = await creds.login("sandbox", fake.provider_secret, fake.refresh_token,
                                 client_kwargs=kwargs)
    creds.save("sandbox", fake.provider_secret, fake.refresh_token)
    with LOOP_GUARD.permitted():  # arranging the data directory before the engine opens
        store = Store.open(tmp_path / "tastydesk.db")
        store.set_config("account:sandbox", accounts[0].account_number)
        store.close()
    return kwargs


async def until(check: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_lifecycle_while_closed_is_booked_at_start_up_and_live_on_the_streamer(
        tmp_path: Path, fake: FakeTastytrade, memory_keyring: Any) -> None:
    short_put, long_put = option(fake, "SPY", "P", 14), option(fake, "SPY", "P", 12)
    short_call, long_call = option(fake, "SPY", "C", 20), option(fake, "SPY", "C", 22)
    csp = option(fake, "AAPL", "P", 14)
    fake.add_position(short_put, -1, D("3.10"))
    fake.add_position(long_put, 1, D("1.50"))
    fake.add_position(short_call, -1, D("0.40"))
    fake.add_position(long_call, 1, D("0.10"))
    fake.add_position(csp, -1, D("2.00"))
    kwargs = await login(tmp_path, fake)

    kernel = await open_kernel(tmp_path, client_kwargs=kwargs)
    await kernel.facade.start()
    try:
        # Disarmed: the adopted spreads' rules may not close them; the test drives the broker.
        await kernel.facade.set_automation(False, "erin")
        put_wf = await kernel.facade.adopt_position([short_put, long_put],
                                                    "Put Credit Spread - 30 DTE", "erin")
        call_wf = await kernel.facade.adopt_position([short_call, long_call],
                                                     "Call Credit Spread - 30 DTE", "erin")
        csp_wf = await kernel.facade.adopt_position([csp], "Cash Secured Put - 30 DTE", "erin")
    finally:
        await kernel.facade.stop()

    # While the app is closed: the short put is assigned, the call spread expires.
    fake.assign(short_put)
    fake.expire(short_call)
    fake.expire(long_call)

    kernel = await open_kernel(tmp_path, client_kwargs=kwargs)
    engine = kernel.facade
    await engine.start()
    try:
        assert engine.health().reconciled
        store = kernel.store
        kinds = [(b.event.kind, b.workflow_id) for b in await store.lifecycle_bookings()]
        assert kinds == [(LifecycleKind.ASSIGNED, put_wf),
                         (LifecycleKind.SHARES_DELIVERED, put_wf),
                         (LifecycleKind.EXPIRED, call_wf), (LifecycleKind.EXPIRED, call_wf)]
        states = {w.workflow_id: w.state for w in engine.workflows()}
        assert states[call_wf] is WorkflowState.COMPLETED
        assert [j.closing_rule for j in await store.journal()] == ["expired"]
        assert states[put_wf] is WorkflowState.MONITORING  # the long put and the shares remain
        legs = {leg.symbol: (leg.quantity, leg.multiplier)
                for v in engine.positions() if v.workflow_id == put_wf for leg in v.legs}
        assert legs == {"SPY": (100, 1), long_put: (1, 100)}
        # Explained by the transactions: no position mismatch is reported.
        assert not [e for e in await store.errors() if "mismatch" in e.message]
        assert any(a.rule_type == "after_assignment" for a in await store.rule_actions(put_wf))

        # During the session: the cash-secured put is assigned on the account streamer.
        fake.assign(csp)
        await until(lambda: any(leg.symbol == "AAPL" for v in engine.positions()
                                if v.workflow_id == csp_wf for leg in v.legs))
        [view] = [v for v in engine.positions() if v.workflow_id == csp_wf]
        assert [(leg.symbol, leg.quantity) for leg in view.legs] == [("AAPL", 100)]
        for _ in range(200):
            if any(a.rule_type == "after_assignment" for a in await store.rule_actions(csp_wf)):
                break
            await asyncio.sleep(0.05)
        [wheel] = [a for a in await store.rule_actions(csp_wf) if a.rule_type == "after_assignment"]
        # Proposed with its rationale: at once while the market is open, else at the next open.
        assert wheel.action == "wheel"
        assert "covered call" in wheel.detail or "next open" in wheel.detail
        # A restart reads the same transactions again and books none twice.
        before = len(await store.lifecycle_bookings())
        assert await kernel.expirations.catch_up() == 0
        assert len(await store.lifecycle_bookings()) == before
    finally:
        await engine.stop()
