"""The command runner with plain and coroutine commands, and how failures read."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import inspect
from typing import Any

import pytest

from tastydesk.engine.config import ConfigError
from tastydesk.engine.errors import EngineError
from tastydesk.engine.strategies.validation import FieldError, StrategyValidationError
from tastydesk.ui.actions import CommandRunner
from tastydesk.ui.builder.chain_check import chain_error
from tastydesk.ui.failures import CommandFailure, describe_failure
from tests.conftest import run_coro


def test_runner_accepts_plain_values_and_coroutines(qtbot: Any, qloop: Any) -> None:
    runner = CommandRunner()
    results: list[object] = []
    calls: list[str] = []

    def plain() -> str:
        calls.append("plain")
        return "done"

    async def coroutine() -> str:
        calls.append("coroutine")
        return "sent"

    assert runner.run("a", plain, on_success=results.append)
    assert runner.run("b", coroutine, on_success=results.append)
    assert calls == []  # nothing runs inside the click handler
    run_coro(qtbot, runner.drain())
    assert sorted(results) == ["done", "sent"] and sorted(calls) == ["coroutine", "plain"]


def test_runner_reports_a_failure_once_with_its_field(qtbot: Any, qloop: Any) -> None:
    runner = CommandRunner()
    seen: list[CommandFailure] = []
    lines: list[tuple[object, str]] = []
    runner.failed.connect(lambda key, line: lines.append((key, line)))

    def refuse() -> None:
        raise EngineError("rules[1].threshold: must be positive")

    task = runner.submit("k", refuse, on_failure=seen.append)
    assert task is not None
    run_coro(qtbot, runner.drain())
    assert [f.path for f in seen] == ["rules[1].threshold"]
    assert lines == [("k", "rules[1].threshold: must be positive")]
    assert not runner.in_flight("k")


@pytest.mark.parametrize(("exc", "line", "path", "expected"), [
    (EngineError("rules[0].threshold: must be positive"),
     "rules[0].threshold: must be positive", "rules[0].threshold", True),
    (EngineError("workflow #3 is not pending"), "workflow #3 is not pending", None, True),
    (StrategyValidationError([FieldError("name", "must not be empty"),
                              FieldError("dte.min", "above target")]),
     "name: must not be empty (and 1 more)", "name", True),
    (ConfigError({"watchlist": "no symbols"}), "watchlist: no symbols", "watchlist", True),
    (KeyError("SPY"), "Unexpected error (KeyError): 'SPY'; details are in the log", None,
     False),
])
def test_describe_failure(exc: BaseException, line: str, path: str | None,
                          expected: bool) -> None:
    failure = describe_failure(exc)
    assert (failure.message, failure.path, failure.expected) == (line, path, expected)


@pytest.mark.parametrize(("message", "path"), [
    ("leg 1 (sell put): no put strike at 0.16 delta", "legs[0].selection"),
    ("leg 2 (buy put): selection.reference_leg: must be >= 0, got -1",
     "legs[1].selection.reference_leg"),
    ("leg 3 (sell call): no expiration 30 days after 2026-12-18", "legs[2].expiry_offset_days"),
    ("no expiration between 700 and 720 DTE for SPY", "dte"),
    ("credit 0.35 below minimum 0.50", "filters.min_credit"),
    ("leg 1 (sell put): no quote for SPY 261218P00560000", None),
    ("leg 1 (sell put): bid is zero for SPY 261218P00560000: nothing to sell into", None),
    ("no implied volatility for SPY: cannot measure the trade", None),
])
def test_chain_error_names_the_strategy_field(message: str, path: str | None) -> None:
    error = chain_error(message, "SPY")
    assert (error.path if error else None) == path
    if error is not None:
        assert error.message.startswith("on SPY: ")


def test_fake_facade_has_the_facade_api() -> None:
    """Docks are tested on the fake: it must answer every public name the facade has."""
    from tastydesk.engine.facade import EngineFacade
    from tests.ui.fake_facade import FakeFacade

    public = {n for n in vars(EngineFacade) if not n.startswith("_")}
    fake = FakeFacade()
    missing = {n for n in public if not hasattr(fake, n)}
    assert not missing
    for name in public & {n for n in vars(FakeFacade) if not n.startswith("_")}:
        real, mine = getattr(EngineFacade, name), getattr(FakeFacade, name)
        assert inspect.iscoroutinefunction(real) == inspect.iscoroutinefunction(mine), name
