"""``tastydesk bench``: selected benchmarks run and report their figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tastydesk.cli import main


def test_bench_runs_the_selected_benchmarks_and_prints_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--only", "greeks_10k_chain", "--only", "bus_dispatch", "--json",
                 "--data-dir", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"greeks_10k_chain", "bus_dispatch"}
    greeks, bus = out["greeks_10k_chain"], out["bus_dispatch"]
    assert greeks["contracts_per_s"] > 0 and greeks["best_ms_per_chain"] <= greeks["ms_per_chain"]
    assert greeks["target_contracts_per_s"] == 10_000_000 and isinstance(greeks["ok"], bool)
    assert bus["events"] == 600_000 and bus["handlers"] == 3
    assert abs(bus["handler_calls_per_s"] - 3 * bus["events_per_s"]) <= 3  # rounding only
    # The exit code says whether every selected benchmark met its target (figures vary by
    # machine; this test checks the report, not the speed).
    assert code == (0 if greeks["ok"] and bus["ok"] else 1)


def test_bench_reports_the_stop_exit_latency(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "--only", "stop_exit_to_broker_latency_1000_positions", "--json",
                 "--data-dir", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)["stop_exit_to_broker_latency_1000_positions"]
    assert out["positions"] == 1000
    assert out["samples"] >= 30, "breached stops reach the broker as closing orders"
    assert 0 < out["p50_ms"] <= out["p99_ms"] and out["target_p99_ms"] == 50.0
    assert code == (0 if out["ok"] else 1)  # the report, not the machine's speed
