"""Monitored positions measure their targets against the credit actually received and weight
their delta with the underlying's real beta."""

from __future__ import annotations

from pathlib import Path

from tastydesk.engine.execution_pricing.thresholds import max_profit_at_fill
from tests.engine.test_engine import paper, until_position


async def test_targets_count_against_the_fill_and_beta_is_the_underlyings(tmp_path: Path
                                                                          ) -> None:
    engine, driver = await paper(tmp_path)
    view = await until_position(engine, driver)
    mon = engine.positions.get(view.workflow_id)
    assert mon is not None
    wf = engine.book.get(view.workflow_id)
    proposal = engine.store.store.get_proposal(wf.proposal_id).proposal
    at_mid = proposal.max_profit / proposal.quantity
    assert mon.max_profit_per_unit == max_profit_at_fill(at_mid, proposal.mid_price,
                                                         mon.entry_price)
    if mon.entry_price != proposal.mid_price:  # walked toward natural: less to capture
        assert mon.max_profit_per_unit != at_mid
    info = (await engine.broker.market_metrics([mon.symbol]))[mon.symbol]
    assert info.beta != 1.0  # the paper market's names have their own betas
    assert mon.beta == info.beta
    await engine.stop()
