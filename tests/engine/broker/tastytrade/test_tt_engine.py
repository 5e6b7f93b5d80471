"""A live proposal on the fake tastytrade: streamed open interest, real beta, a trend bias."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tastydesk.engine.bootstrap import open_engine
from tastydesk.engine.domain.enums import Bias
from tastydesk.engine.store.guard import LOOP_GUARD
from tastydesk.engine.store.service import Store
from tests.fake_tastytrade import FakeTastytrade


async def test_a_live_proposal_carries_open_interest_beta_and_trend_bias(
        tmp_path: Path, tt_fake: FakeTastytrade, memory_keyring: Any) -> None:
    from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore

    kwargs = {"transport": tt_fake.transport}  # type: ignore[attr-defined]
    creds = KeyringCredentialStore()
    accounts = await creds.login("sandbox", tt_fake.provider_secret, tt_fake.refresh_token,
                                 client_kwargs=kwargs)
    creds.save("sandbox", tt_fake.provider_secret, tt_fake.refresh_token)
    store = Store.open(tmp_path / "tastydesk.db")
    with LOOP_GUARD.permitted():  # arranging the data directory before the engine opens
        store.set_config("account:sandbox", accounts[0].account_number)
    store.close()
    engine = await open_engine(tmp_path, client_kwargs=kwargs)
    await engine.start()
    try:
        strategy = next(s for s in engine.strategies() if s.name == "Put Credit Spread - 30 DTE")
        spy = await engine.preview(strategy, "SPY")
        assert spy.bias is Bias.BULLISH, spy.rationale  # SPY's daily candles trend up
        assert all(leg.open_interest > 0 for leg in spy.legs)
        assert not [w for w in spy.warnings if "open interest" in w], spy.warnings
        tlt = await engine.preview(strategy, "TLT")
        assert tlt.bias is Bias.BEARISH, tlt.rationale  # and TLT's down
        tsla = await engine.preview(strategy, "TSLA")
        # beta-weighted delta uses tastytrade's beta (TSLA 2.05, TLT -0.27)
        assert tsla.greeks.beta_weighted_delta * tsla.greeks.delta > 0
        assert tlt.greeks.beta_weighted_delta * tlt.greeks.delta < 0
    finally:
        await engine.stop()
