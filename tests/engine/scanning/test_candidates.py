"""Candidates on the real paper market and broker: the broker's dry run judges the trade, not
the rounding of its mid."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tastydesk.engine.bootstrap import open_paper_engine
from tastydesk.engine.broker.paper.rules import rules_for
from tastydesk.engine.domain.enums import SelectionMethod
from tastydesk.engine.domain.strategy import StrikeSelection
from tastydesk.engine.simulation import SIM_START


async def test_a_single_leg_mid_off_the_options_tick_is_dry_run_on_the_tick(
        tmp_path: Path) -> None:
    kernel, _driver = await open_paper_engine(tmp_path, seed=3,
                                              start=SIM_START + timedelta(hours=1))
    await kernel.start(start_driver=False)
    try:
        csp = next(s for s in kernel.strategies.all() if s.name == "Cash Secured Put - 30 DTE")
        # A 30-delta put on AMZN is worth over $3, where its single-leg orders trade in nickels,
        # and the mid of a nickel-wide market is half a nickel off that tick.
        put = dataclasses.replace(csp, legs=(dataclasses.replace(
            csp.legs[0], selection=StrikeSelection(SelectionMethod.DELTA, Decimal("0.30"))),))
        preview = await kernel.candidates.preview(put, "AMZN")
        ticks = rules_for("AMZN").ticks_for(1)
        assert preview.mid_price > 3 and not ticks.is_on_tick(preview.mid_price)
        built = await kernel.candidates.build("AMZN", only=put)
        assert not isinstance(built, str), built
        proposal, strategy = built
        assert strategy.name == csp.name and proposal.mid_price == preview.mid_price
    finally:
        await kernel.stop()
