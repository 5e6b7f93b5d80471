"""A simulated stretch with the iron condor's roll rule: every order legal (at most four legs,
prices on the tick) on the strict paper broker, and condors rolled as four-leg orders."""

from __future__ import annotations

from pathlib import Path

from tastydesk.engine.simulation import run_simulation


async def test_condors_roll_as_legal_orders_on_the_strict_paper_broker(tmp_path: Path) -> None:
    summary = await run_simulation(tmp_path, days=60, seed=1, auto_approve=True, roll_rule=True)
    legality = summary["order_legality"]
    assert legality["orders_over_4_legs"] == 0
    assert legality["off_tick_orders"] == 0
    assert legality["rejected_by_reason"].get("legs", 0) == 0
    assert legality["rejected_by_reason"].get("tick", 0) == 0
    assert legality["four_leg_roll_orders_filled"] >= 2  # a condor's put and call spreads
    assert summary["errors"] == 0, summary["error_messages"]
    assert summary["integrity"] == []
