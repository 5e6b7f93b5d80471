"""The engine on the tastytrade adapter (real SDK) against the fake tastytrade server.

The login is read from the keyring (an in-memory backend here), the chosen account from the
store; start-up reconciles before anything runs, and a proposal is built on the fake's chain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tastydesk.engine.bootstrap import open_kernel
from tastydesk.engine.domain.enums import Mode
from tastydesk.engine.store.guard import LOOP_GUARD
from tastydesk.engine.store.service import Store
from tests.fake_tastytrade import FakeTastytrade, InProcessTransport


@pytest.fixture
async def fake() -> AsyncIterator[FakeTastytrade]:
    server = FakeTastytrade(dx_keepalive=0.1, hang_seconds=30.0)
    transport = InProcessTransport(server.app)
    await transport.start()
    server.transport = transport  # type: ignore[attr-defined]
    yield server
    await transport.aclose()


async def test_stored_login_opens_a_live_engine_that_reconciles(
        tmp_path: Path, fake: FakeTastytrade, memory_keyring: Any) -> None:
    from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore

    creds = KeyringCredentialStore()
    accounts = await creds.login("sandbox", fake.provider_secret, fake.refresh_token,
                                 client_kwargs={"transport": fake.transport})  # type: ignore[attr-defined]
    creds.save("sandbox", fake.provider_secret, fake.refresh_token)
    store = Store.open(tmp_path / "tastydesk.db")
    with LOOP_GUARD.permitted():  # arranging the data directory before the engine opens
        store.set_config("account:sandbox", accounts[0].account_number)
    store.close()

    kernel = await open_kernel(tmp_path, client_kwargs={"transport": fake.transport})  # type: ignore[attr-defined]
    engine = kernel.facade
    assert engine.mode is Mode.SANDBOX
    await engine.start()
    try:
        health = engine.health()
        assert health.reconciled, health.reconcile_detail
        assert kernel.broker.account_number == accounts[0].account_number
        strategy = next(s for s in engine.strategies() if s.name == "Put Credit Spread - 30 DTE")
        proposal = await engine.preview(strategy, "SPY")
        assert proposal.legs and proposal.max_loss > 0
    finally:
        await engine.stop()
    # Nothing secret reached the database.
    raw = (tmp_path / "tastydesk.db").read_bytes()
    assert fake.provider_secret.encode() not in raw and fake.refresh_token.encode() not in raw


async def test_a_chain_request_streams_only_strikes_near_the_money(fake: FakeTastytrade) -> None:
    from tastydesk.engine.broker.tastytrade.adapter import TastytradeBroker
    from tastydesk.engine.bus import EventBus
    from tastydesk.engine.clock import RealClock

    broker = TastytradeBroker(EventBus(), RealClock(), provider_secret=fake.provider_secret,
                              refresh_token=fake.refresh_token,
                              client_kwargs={"transport": fake.transport})  # type: ignore[attr-defined]
    await broker.connect()
    try:
        chain = await broker.option_chain("SPY", 20, 50)
        spot = float(chain.underlying.price)
        with_greeks = [c for e in chain.expirations for s in e.strikes for c in (s.call, s.put)
                       if c.greeks is not None]
        assert with_greeks, "strikes near the money carry streamed greeks"
        assert all(abs(float(c.strike) - spot) <= 0.25 * spot for c in with_greeks)
    finally:
        await broker.close()
