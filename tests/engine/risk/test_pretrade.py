"""Pre-trade checks on every path that sends an opening order: per-trade buying power and the
allocation counting pending approvals and working orders, not only filled positions."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from tastydesk.engine.domain.enums import ActionOutcome, CommitmentKind, WorkflowState
from tastydesk.engine.domain.results import SENT
from tastydesk.engine.risk.checks import Commitment, committed, opening_problem
from tests.engine.test_engine import count_placed, paper, until_pending


def test_opening_problem_names_the_cap_and_the_allocation() -> None:
    assert opening_problem(D("23000"), D("5000"), used=D("0"), limit=D("80000")) == (
        "buying power 23000 above the per-trade maximum 5000")
    assert "allocation" in opening_problem(D("4000"), D("5000"), used=D("77000"),
                                           limit=D("80000"))
    assert opening_problem(D("4000"), D("5000"), used=D("76000"), limit=D("80000")) is None


def test_committed_counts_other_workflows_only() -> None:
    items = [Commitment(1, "SPY", D("800"), CommitmentKind.PENDING_APPROVAL),
             Commitment(2, "QQQ", D("500"), CommitmentKind.WORKING_ORDER)]
    assert committed(items) == D("1300")
    assert committed(items, exclude_workflow=1) == D("500")


async def test_modify_to_30_lots_is_refused_with_its_reason(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path)
    pending = (await until_pending(engine, driver))[0]
    placed = count_placed(engine)
    decisions = len(engine.facade.decisions())
    result = await engine.facade.approve(pending.workflow_id, "hana", quantity=30)
    await engine.tasks.drain()
    assert result.outcome is ActionOutcome.NOT_SENT
    assert result.detail.startswith("30 lots: buying power ")
    assert "above the per-trade maximum 5000" in result.detail
    assert placed == []  # nothing reached the broker
    assert len(engine.facade.decisions()) == decisions  # nothing recorded either
    wf = next(w for w in engine.facade.workflows() if w.workflow_id == pending.workflow_id)
    assert wf.state is WorkflowState.PENDING_APPROVAL
    await engine.stop()


async def test_allocation_counts_pending_approvals_and_working_orders(tmp_path: Path) -> None:
    engine, driver = await paper(tmp_path)
    pending = (await until_pending(engine, driver))[0]
    bp = pending.proposal.buying_power
    waiting = sum((p.proposal.buying_power for p in engine.facade.pending()), D(0))
    filled = engine.risk.current().buying_power_used
    assert engine.risk.used_or_committed() == filled + waiting
    assert engine.risk.used_or_committed(pending.workflow_id) == filled + waiting - bp
    # Priced far above mid, the entry keeps working unfilled: its buying power stays committed.
    price = pending.proposal.mid_price + D("2.00")
    assert await engine.facade.approve(pending.workflow_id, "hana", price=price) == SENT
    await engine.tasks.drain()
    kinds = {c.kind: c.buying_power for c in engine.risk.commitments()}
    assert kinds.get("working order") == bp
    assert engine.risk.used_or_committed() == filled + waiting
    # With the allocation cap just below what is committed, another approval is refused.
    limit = engine.risk.bp_limit()
    assert limit > 0
    problem = engine.risk.opening_problem(None, limit - engine.risk.used_or_committed() + 1,
                                          D("1000000"), "XYZ")
    assert problem is not None and problem.startswith("allocation:")
    await engine.stop()
