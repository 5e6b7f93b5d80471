"""``tastydesk simulate``: run the engine headless on the paper market and print a summary."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import sys
import tempfile
from pathlib import Path

from tastydesk.commands.writer import writing
from tastydesk.exit_codes import ExitCode

MAX_DAYS = 3660
SYMBOL = re.compile(r"[A-Za-z0-9./]{1,12}")


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
    parser.add_argument("--roll-rule", action="store_true",
                        help="give the iron condor a roll rule at 25 DTE (rolled as legal orders)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--without-rule", action="append", default=[], metavar="RULE_TYPE",
                        help="drop this rule type (repeatable, or comma-separated) from the "
                             "--rules-strategy strategy, e.g. expiration_risk")
    parser.add_argument("--rules-strategy", default=None, metavar="NAME",
                        help="the strategy --without-rule and --hold-to-expiry apply to "
                             "(default: Iron Condor - 45 DTE)")
    parser.add_argument("--hold-to-expiry", action="store_true",
                        help="drop every rule of the --rules-strategy strategy, so its positions "
                             "reach expiration (expiry, exercise, assignment, dividends)")


def run(args: argparse.Namespace) -> int:
    problem = _bad_arguments(args)
    if problem:
        print(f"tastydesk simulate: error: {problem}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    explicit = getattr(args, "data_dir", None)
    if not explicit:
        # A fresh temporary directory: nobody else writes it, nothing in it to check.
        return _simulate(args, Path(tempfile.mkdtemp(prefix="tastydesk-sim-")))
    with writing(Path(explicit), paper_state=True) as base:
        return _simulate(args, base)


def _bad_arguments(args: argparse.Namespace) -> str | None:
    if args.days < 1:
        return f"--days must be at least 1, got {args.days}"
    if args.days > MAX_DAYS:
        return f"--days must be at most {MAX_DAYS}, got {args.days}"
    if not (args.step_minutes > 0 and math.isfinite(args.step_minutes)):
        return f"--step-minutes must be a positive number, got {args.step_minutes}"
    from tastydesk.engine.domain.enums import RuleType

    known = {t.value for t in RuleType}
    for item in _rule_types(args):
        if item not in known:
            return (f"--without-rule: {item!r} is not a rule type "
                    f"({', '.join(sorted(known))})")
    for symbol in args.symbols or ():
        if not SYMBOL.fullmatch(symbol):
            return f"--symbols: {symbol!r} is not a ticker symbol (letters, digits, '.', '/')"
    return None


def _rule_types(args: argparse.Namespace) -> list[str]:
    return [t.strip() for item in args.without_rule for t in item.split(",") if t.strip()]


def _simulate(args: argparse.Namespace, base: Path) -> int:
    from tastydesk.engine.domain.enums import RuleType
    from tastydesk.engine.simulation import HOLD_STRATEGY, run_simulation
    from tastydesk.paths import setup_logging

    setup_logging(base, console=False)
    try:
        summary = asyncio.run(run_simulation(
            base, days=args.days, seed=args.seed, symbols=args.symbols,
            auto_approve=args.auto_approve, step_minutes=args.step_minutes,
            without_rules=frozenset(RuleType) if args.hold_to_expiry
            else frozenset(RuleType(t) for t in _rule_types(args)),
            rules_strategy=args.rules_strategy or HOLD_STRATEGY,
            roll_rule=args.roll_rule))
    except ValueError as exc:
        if not str(exc).startswith("--rules-strategy"):
            raise
        print(f"tastydesk simulate: error: {exc}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    summary["data_dir"] = str(base)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        for key, value in summary.items():
            print(f"{key:>26}: {value}")
    return int(ExitCode.PROBLEMS if summary["errors"] or summary["integrity"] else ExitCode.OK)
