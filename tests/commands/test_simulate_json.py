"""The execution keys of ``simulate --json`` that the README documents are in the summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tastydesk.cli import main
from tastydesk.exit_codes import ExitCode


def test_the_documented_execution_keys_are_in_the_summary(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--days", "3", "--seed", "1", "--auto-approve", "--json",
            "--data-dir", str(tmp_path / "data")]
    assert main(argv) == ExitCode.OK
    summary = json.loads(capsys.readouterr().out)
    quality = summary["fill_quality"]
    assert {"spread_share_conceded", "entries_filled_ratio", "stop_exit_steps_p90",
            "fills_with_market", "avg_fill_vs_mid", "entries_sent", "entries_filled",
            "stop_exits", "stop_exits_within_3_steps_ratio"} <= set(quality)
    assert quality["entries_sent"] > 0  # three auto-approved days send entries
    assert 0 <= quality["entries_filled_ratio"] <= 1
    assert quality["spread_share_conceded"] is None or isinstance(
        quality["spread_share_conceded"], float)
    assert summary["proposals_by_strategy"]
    assert all(isinstance(n, int) and n > 0 for n in summary["proposals_by_strategy"].values())
    allocation = summary["opening_orders_above_cap_or_allocation"]
    assert set(allocation) == {"above_per_trade_cap", "above_allocation", "max_allocation_pct"}
    assert (allocation["above_per_trade_cap"], allocation["above_allocation"]) == (0, 0)
