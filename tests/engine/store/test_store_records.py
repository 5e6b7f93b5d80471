from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tastydesk.engine.domain.enums import (
    Actor,
    Decision,
    ErrorCategory,
    OrderAction,
    OrderPurpose,
    OrderStatus,
    ProposalStatus,
    RuleType,
    Trigger,
)
from tastydesk.engine.domain.instruments import TimeInForce
from tastydesk.engine.domain.orders import Fill, OrderLeg, OrderRequest
from tastydesk.engine.store.codec import proposal_from_json, proposal_to_json
from tastydesk.engine.store.errors import DuplicateOrderIntent, NotFound
from tastydesk.engine.store.service import AsyncStore, Store
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.engine.strategies.validation import StrategyValidationError
from tests.engine.store.conftest import NOW, make_proposal

LEGS = (OrderLeg("SPY   260220P00570000", OrderAction.SELL_TO_OPEN, 2),
        OrderLeg("SPY   260220P00565000", OrderAction.BUY_TO_OPEN, 2))


def request(external_id: str = "td-1", price: Decimal = Decimal("0.35")) -> OrderRequest:
    return OrderRequest(underlying="SPY", legs=LEGS, price=price, external_id=external_id)


def test_proposal_json_round_trip_is_exact() -> None:
    proposal = make_proposal()
    decoded = proposal_from_json(proposal_to_json(proposal))
    assert decoded == proposal
    assert decoded.curve == proposal.curve
    assert decoded.legs[0].bid == Decimal("1.43") and decoded.legs[0].expiry == proposal.expiry


def test_proposal_and_decision_round_trip(store: Store) -> None:
    wf = store.create_workflow("SPY", Actor.ENGINE, "t", NOW)
    proposal = make_proposal()
    pid = store.save_proposal(wf.id, proposal, NOW + timedelta(minutes=10))
    rec = store.get_proposal(pid)
    assert (rec.workflow_id, rec.status, rec.proposal, rec.created_at, rec.expires_at) == (
        wf.id, "pending", proposal, NOW, NOW + timedelta(minutes=10))
    assert store.get_proposal(pid).status is ProposalStatus.PENDING
    store.set_proposal_status(pid, ProposalStatus.APPROVED)
    assert store.get_proposal(pid).status is ProposalStatus.APPROVED
    d = store.record_decision(pid, Decision.MODIFY, "alice", "better price", NOW,
                              Decimal("0.40"), 1)
    assert store.decisions() == [d] and store.decisions()[0].decision is Decision.MODIFY
    with pytest.raises(ValueError, match="'maybe' is not a valid ProposalStatus"):
        store.set_proposal_status(pid, "maybe")  # type: ignore[arg-type]
    assert store.get_proposal(pid).status is ProposalStatus.APPROVED
    assert (d.price, d.quantity, d.user) == (Decimal("0.40"), 1, "alice")
    with pytest.raises(ValueError, match="decision"):
        store.record_decision(pid, "maybe", "alice", "", NOW)
    with pytest.raises(NotFound):
        store.get_proposal(pid + 100)


def test_order_lifecycle_and_events(store: Store) -> None:
    wf = store.create_workflow("SPY", Actor.ENGINE, "t", NOW)
    pid = store.save_proposal(wf.id, make_proposal(), None)
    order = store.create_order_intent(wf.id, OrderPurpose.OPEN, request(), 2, NOW, pid)
    assert (order.status, order.legs, order.price, order.filled_quantity) == (
        OrderStatus.PENDING_SUBMIT, LEGS, Decimal("0.35"), 0)
    later = NOW + timedelta(seconds=3)
    working = store.update_order("td-1", OrderStatus.WORKING, later, broker_order_id="B77",
                                 fees=Decimal("2.00"))
    assert working.fees == Decimal("2.00")
    with pytest.raises(ValueError, match="fees must be a non-negative Decimal"):
        store.update_order("td-1", OrderStatus.FILLED, later, fees=Decimal("-1"))
    assert store.get_order("td-1") == working  # refused: nothing changed
    done = store.update_order("td-1", OrderStatus.FILLED, later, price=Decimal("0.34"),
                              filled_quantity=2, detail="filled")
    assert (done.status, done.broker_order_id, done.price, done.filled_quantity, done.fees) == (
        OrderStatus.FILLED, "B77", Decimal("0.34"), 2, Decimal("2.00"))  # fees kept
    assert store.get_order("td-1") == done == store.order_by_broker_id("B77")
    assert [e.status for e in store.order_events("td-1")] == [
        OrderStatus.PENDING_SUBMIT, OrderStatus.WORKING, OrderStatus.FILLED]
    assert store.orders(wf.id) == [done] and store.orders(open_only=True) == []
    rejected = store.create_order_intent(wf.id, OrderPurpose.CLOSE, request("td-2"), 2, NOW)
    assert store.orders(open_only=True) == [rejected]
    out = store.update_order("td-2", OrderStatus.REJECTED, NOW, detail="market closed")
    assert out.reject_reason == "market closed"
    with pytest.raises(ValueError, match="filled_quantity"):
        store.update_order("td-2", OrderStatus.FILLED, NOW, filled_quantity=3)
    with pytest.raises(NotFound):
        store.update_order("nope", OrderStatus.WORKING, NOW)


def test_time_in_force_is_kept_with_the_order(store: Store) -> None:
    wf = store.create_workflow("SPY", Actor.ENGINE, "t", NOW)
    gtc = replace(request("td-gtc"), time_in_force=TimeInForce.GTC)
    made = store.create_order_intent(wf.id, OrderPurpose.CLOSE, gtc, 2, NOW)
    day = store.create_order_intent(wf.id, OrderPurpose.CLOSE, request("td-day"), 2, NOW)
    assert (made.time_in_force, day.time_in_force) == (TimeInForce.GTC, TimeInForce.DAY)
    store.update_order("td-gtc", OrderStatus.WORKING, NOW)
    assert [o.time_in_force for o in store.orders(wf.id)] == [TimeInForce.GTC, TimeInForce.DAY]
    assert store.get_order("td-gtc") == store.orders(wf.id)[0]


def test_duplicate_order_intent_is_refused_and_writes_nothing(store: Store) -> None:
    wf = store.create_workflow("SPY", Actor.ENGINE, "t", NOW)
    pid = store.save_proposal(wf.id, make_proposal(), None)
    store.create_order_intent(wf.id, OrderPurpose.OPEN, request("a"), 1, NOW, pid, attempt=0)
    with pytest.raises(DuplicateOrderIntent, match=f"proposal {pid}"):
        store.create_order_intent(wf.id, OrderPurpose.OPEN, request("b"), 1, NOW, pid, 0)
    with pytest.raises(DuplicateOrderIntent, match="external id 'a'"):
        store.create_order_intent(wf.id, OrderPurpose.OPEN, request("a"), 1, NOW, pid, 1)
    assert [o.external_id for o in store.orders()] == ["a"]
    assert len(store.order_events("a")) == 1
    store.create_order_intent(wf.id, OrderPurpose.OPEN, request("c"), 1, NOW, pid, attempt=1)
    with pytest.raises(NotFound):
        store.create_order_intent(999, OrderPurpose.OPEN, request("d"), 1, NOW)


def test_decimal_money_is_exact(store: Store) -> None:
    wf = store.create_workflow("SPY", Actor.ENGINE, "t", NOW)
    price = Decimal("0.1") + Decimal("0.2")
    store.create_order_intent(wf.id, OrderPurpose.OPEN, request("x", price), 1, NOW)
    assert store.get_order("x").price == Decimal("0.3")  # type: ignore[union-attr]
    store.create_order_intent(wf.id, OrderPurpose.OPEN, request("y", Decimal("-1.2300")), 1, NOW)
    assert str(store.get_order("y").price) == "-1.2300"  # type: ignore[union-attr]
    tiny = Decimal("0.000000000000000000000001")
    store.create_order_intent(wf.id, OrderPurpose.OPEN, request("z", tiny), 1, NOW)
    assert store.get_order("z").price == tiny  # type: ignore[union-attr]


def test_times_come_back_utc_and_naive_is_refused(store: Store) -> None:
    eastern = timezone(timedelta(hours=-5))
    local = datetime(2026, 1, 5, 10, 30, 0, 123456, tzinfo=eastern)
    wf = store.create_workflow("SPY", Actor.ENGINE, "t", local)
    assert wf.created_at == local and wf.created_at.tzinfo is UTC
    with pytest.raises(ValueError, match="now"):
        store.create_workflow("SPY", Actor.ENGINE, "t", datetime(2026, 1, 5))


def test_fill_idempotency(store: Store) -> None:
    wf = store.create_workflow("SPY", Actor.ENGINE, "t", NOW)
    store.create_order_intent(wf.id, OrderPurpose.OPEN, request(), 2, NOW)
    fill = Fill("F1", "B77", LEGS[0].symbol, OrderAction.SELL_TO_OPEN, 2, Decimal("1.45"), NOW)
    assert store.add_fill("td-1", fill) is True
    assert store.add_fill("td-1", fill) is False
    (rec,) = store.fills(wf.id)
    assert (rec.fill_id, rec.quantity, rec.price, rec.action, rec.time) == (
        "F1", 2, Decimal("1.45"), OrderAction.SELL_TO_OPEN, NOW)
    with pytest.raises(NotFound):
        store.add_fill("nope", fill)


def test_positions_average_and_realise(store: Store) -> None:
    wf = store.create_workflow("SPY", Actor.ENGINE, "t", NOW)
    sym = LEGS[0].symbol
    store.apply_position_fill(wf.id, sym, -2, Decimal("1.50"), NOW)
    pos = store.apply_position_fill(wf.id, sym, -1, Decimal("1.80"), NOW)
    assert (pos.quantity, pos.avg_open_price) == (-3, Decimal("1.6"))
    pos = store.apply_position_fill(wf.id, sym, 1, Decimal("1.00"), NOW)
    assert (pos.quantity, pos.realised_pnl) == (-2, Decimal("60"))
    closed = store.apply_position_fill(wf.id, sym, 2, Decimal("0.80"), NOW + timedelta(days=1))
    assert closed.quantity == 0 and closed.closed_at == NOW + timedelta(days=1)
    assert closed.realised_pnl == Decimal("220")
    assert store.positions(wf.id) == []
    long_ = store.apply_position_fill(wf.id, "SPY   260220C00650000", 1, Decimal("2"), NOW)
    flipped = store.apply_position_fill(wf.id, long_.symbol, -3, Decimal("2.5"), NOW)
    assert (flipped.quantity, flipped.avg_open_price) == (-2, Decimal("2.5"))
    assert [p.quantity for p in store.positions(wf.id, open_only=False)] == [0, 0, -2]
    assert store.positions(wf.id, open_only=False)[1].realised_pnl == Decimal("50")
    with pytest.raises(ValueError, match="signed_quantity"):
        store.apply_position_fill(wf.id, sym, 0, Decimal("1"), NOW)


def test_journal_rule_actions_audit_errors_metrics_config(store: Store) -> None:
    wf = store.create_workflow("SPY", Actor.ENGINE, "t", NOW)
    j = store.add_journal(wf.id, "IC", "SPY", Decimal("1.20"), Decimal("-0.60"), Decimal("4.56"),
                          Decimal("115.44"), NOW, NOW + timedelta(days=2, seconds=5), "profit")
    assert store.journal() == [j] and j.duration_s == 172805
    r = store.add_rule_action(wf.id, RuleType.STOP_LOSS, "close", "loss 210 %", "pending", NOW)
    assert store.rule_actions(wf.id) == [r] and r.rule_type == "stop_loss"
    for i in range(3):
        store.audit(Actor.USER, f"action{i}", "d", NOW, wf.id)
    assert [a.action for a in store.audit_log(limit=2)] == ["action1", "action2"]
    assert store.audit_log()[0].actor == "user"
    store.log_error(ErrorCategory.RECONCILE, "timeout", NOW, "detail", wf.id)
    (err,) = store.errors()
    assert (err.category, err.message, err.detail, err.workflow_id) == (
        ErrorCategory.RECONCILE, "timeout", "detail", wf.id)
    assert err.category is ErrorCategory.RECONCILE  # decoded once, in the store
    with pytest.raises(ValueError, match="'broker' is not a valid ErrorCategory"):
        store.log_error("broker", "timeout", NOW)  # type: ignore[arg-type]
    assert len(store.errors()) == 1
    store.record_metric("latency_ms", 1.5, NOW)
    assert store.metrics("latency_ms") == [(NOW, 1.5)]
    assert store.get_config("missing", 5) == 5
    store.set_config("watch", {"symbols": ["SPY", "QQQ"], "n": 2})
    store.set_config("watch", {"symbols": ["IWM"]})
    assert store.get_config("watch") == {"symbols": ["IWM"]}
    with pytest.raises(TypeError):
        store.set_config("bad", object())


def test_default_strategies_installed_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        assert {s.name for s in store.list_strategies()} == {s.name for s in DEFAULT_STRATEGIES}
        assert store.get_strategy("Iron Condor - 45 DTE") == DEFAULT_STRATEGIES[2]
        store.delete_strategy("Short Strangle - 30 DTE")
        with pytest.raises(NotFound):
            store.delete_strategy("Short Strangle - 30 DTE")
    with Store.open(path) as store:
        assert store.get_strategy("Short Strangle - 30 DTE") is None
        store.restore_default_strategies()
        assert len(store.list_strategies()) == 5
        assert store.is_builtin_strategy("Short Strangle - 30 DTE")


def test_save_strategy_validates(store: Store) -> None:
    from dataclasses import replace

    custom = replace(DEFAULT_STRATEGIES[0], name="Mine", priority=3)
    store.save_strategy(custom)
    assert store.get_strategy("Mine") == custom and not store.is_builtin_strategy("Mine")
    bad = replace(custom, name="Bad", dte=replace(custom.dte, min=40))
    with pytest.raises(StrategyValidationError, match=r"dte\.min"):
        store.save_strategy(bad)
    assert store.get_strategy("Bad") is None


async def test_async_store_runs_on_one_writer_thread(store: Store) -> None:
    astore = AsyncStore(store)
    wf = await astore.create_workflow("SPY", Actor.ENGINE, "async", NOW)
    moved = await astore.transition(wf.id, Trigger.SCAN, Actor.ENGINE, "scan", NOW)
    assert moved.state.value == "EVALUATING"
    names = {await astore.run(lambda: threading.current_thread().name) for _ in range(5)}
    assert len(names) == 1 and names != {threading.current_thread().name}
    with pytest.raises(AttributeError):
        astore._lock  # noqa: B018
    await astore.close()


def test_record_fills_moves_the_position_in_the_same_transaction(store: Store) -> None:
    wf = store.create_workflow("SPY", Actor.ENGINE, "t", NOW)
    store.create_order_intent(wf.id, OrderPurpose.OPEN, request(), 2, NOW)
    sell = Fill("F1", "B77", LEGS[0].symbol, OrderAction.SELL_TO_OPEN, 2, Decimal("1.45"), NOW)
    buy = Fill("F2", "B77", LEGS[1].symbol, OrderAction.BUY_TO_OPEN, 2, Decimal("0.95"), NOW)
    assert store.record_fills("td-1", [sell, buy], NOW) == [sell, buy]
    assert store.record_fills("td-1", [sell, buy], NOW) == []  # replayed: nothing moves twice
    held = {p.symbol: p.quantity for p in store.positions(wf.id)}
    assert held == {LEGS[0].symbol: -2, LEGS[1].symbol: 2}
    # A failure part-way leaves neither the fill nor the position behind.
    third = Fill("F3", "B77", LEGS[0].symbol, OrderAction.BUY_TO_CLOSE, 1, Decimal("1.00"), NOW)
    bad = Fill("F4", "B77", LEGS[1].symbol, OrderAction.SELL_TO_CLOSE, 1, Decimal("-1"), NOW)
    with pytest.raises(ValueError):
        store.record_fills("td-1", [third, bad], NOW)
    assert {f.fill_id for f in store.fills(wf.id)} == {"F1", "F2"}
    assert {p.symbol: p.quantity for p in store.positions(wf.id)} == held


def test_order_events_by_order_matches_one_read_per_order(store: Store) -> None:
    wf = store.create_workflow("SPY", Actor.ENGINE, "t", NOW)
    store.create_order_intent(wf.id, OrderPurpose.OPEN, request("td-1"), 2, NOW)
    store.create_order_intent(wf.id, OrderPurpose.CLOSE, request("td-2"), 2, NOW)
    store.update_order("td-1", OrderStatus.WORKING, NOW, broker_order_id="B1")
    store.update_order("td-2", OrderStatus.WORKING, NOW, broker_order_id="B2")
    store.update_order("td-1", OrderStatus.WORKING, NOW, price=Decimal("0.36"),
                       detail="price step 1")
    one_by_one = {ext: store.order_events(ext) for ext in ("td-1", "td-2")}
    assert store.order_events_by_order() == one_by_one
    assert [e.detail for e in one_by_one["td-1"]] == ["intent recorded", "", "price step 1"]
    # Filtered, in chunks past the bound-variable limit; an unknown order has no events.
    wanted = ["td-2", *(f"none-{i}" for i in range(1200))]
    picked = store.order_events_by_order(wanted)
    assert picked["td-2"] == one_by_one["td-2"] and "td-1" not in picked
    assert len(picked) == 1201 and picked["none-7"] == []
