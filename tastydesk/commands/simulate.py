"""``tastydesk simulate``: run the engine headless on the paper market and print a summary."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=30, help="calendar days to simulate")
    parser.add_argument("--seed", type=int, default=1, help="market seed")
    parser.add_argument("--speed", default="max", choices=["max"],
                        help="clock speed (max: step as fast as possible)")
    parser.add_argument("--symbols", nargs="*", default=None, help="watchlist (default: config)")
    parser.add_argument("--auto-approve", action="store_true",
                        help="approve every proposal and rule action by policy")
    parser.add_argument("--step-minutes", type=float, default=15.0,
                        help="simulated minutes per step")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from tastydesk.engine.simulation import run_simulation
    from tastydesk.paths import setup_logging

    if args.days < 1:
        print("error: --days must be at least 1")
        return 2
    explicit = getattr(args, "data_dir", None)
    base = Path(explicit) if explicit else Path(tempfile.mkdtemp(prefix="tastydesk-sim-"))
    base.mkdir(parents=True, exist_ok=True)
    setup_logging(base, console=False)
    summary = asyncio.run(run_simulation(base, days=args.days, seed=args.seed,
                                         symbols=args.symbols, auto_approve=args.auto_approve,
                                         step_minutes=args.step_minutes))
    summary["data_dir"] = str(base)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        for key, value in summary.items():
            print(f"{key:>26}: {value}")
    return 1 if summary["errors"] or summary["integrity"] else 0
