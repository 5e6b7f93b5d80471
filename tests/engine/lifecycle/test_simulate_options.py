"""``simulate --without-rule`` and ``--hold-to-expiry``: a bad rule type is refused in one line,
before anything is written; the rules dropped are the named strategy's and the summary says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tastydesk.cli import main
from tastydesk.exit_codes import ExitCode


def test_an_unknown_rule_type_is_refused_naming_the_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    argv = ["simulate", "--without-rule", "expiration_risk,expiry", "--data-dir", str(data)]
    assert main(argv) == ExitCode.BAD_INPUT
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "--without-rule" in line and "'expiry'" in line and "expiration_risk" in line
    assert not data.exists()


def test_hold_to_expiry_drops_every_rule_of_the_named_strategy_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped way to let one strategy's positions reach expiration: the expiration-risk
    rule alone is not enough (its time exit, profit target and stop close them first)."""
    import json

    from tastydesk.engine.domain.enums import RuleType
    from tastydesk.engine.store.service import Store
    from tastydesk.paths import db_path

    data = tmp_path / "data"
    argv = ["simulate", "--days", "1", "--seed", "1", "--hold-to-expiry", "--json",
            "--rules-strategy", "Put Credit Spread - 30 DTE", "--data-dir", str(data)]
    assert main(argv) == ExitCode.OK
    summary = json.loads(capsys.readouterr().out)
    assert summary["rules_dropped"] == {"strategy": "Put Credit Spread - 30 DTE",
                                        "rule_types": sorted(t.value for t in RuleType)}
    store = Store.open(db_path(data))
    try:
        held = store.get_strategy("Put Credit Spread - 30 DTE")
        other = store.get_strategy("Iron Condor - 45 DTE")
        assert held is not None and held.rules == ()
        assert other is not None and RuleType.EXPIRATION_RISK in {r.rule_type for r in other.rules}
    finally:
        store.close()
