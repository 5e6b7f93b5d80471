"""``tastydesk preview STRATEGY --symbol SYM``: a trade proposal on the current market."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.exit_codes import ExitCode


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("strategy", help="strategy name (see `tastydesk strategies list`)")
    parser.add_argument("--symbol", required=True, help="underlying symbol, e.g. SPY")
    parser.add_argument("--json", action="store_true", help="print JSON with stable keys")
    parser.add_argument("--seed", type=int, default=None, help="paper market seed")


def run(args: argparse.Namespace) -> int:
    from tastydesk.commands.state_files import require_readable_app_database
    from tastydesk.paths import data_dir

    base = data_dir(getattr(args, "data_dir", None))
    require_readable_app_database(base)  # damaged state: one line and exit code 3
    try:
        result = asyncio.run(_preview(base, args.strategy, args.symbol, args.seed))
    except LookupError as exc:
        print(f"tastydesk preview: error: {exc.args[0]}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    except ValueError as exc:
        print(f"tastydesk preview: error: {exc}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        _print_table(result)
    return 0


async def _preview(base: Path, name: str, symbol: str, seed: int | None) -> dict[str, Any]:
    from tastydesk.engine.bootstrap import open_paper_engine
    from tastydesk.engine.store.service import Store
    from tastydesk.paths import db_path

    def read() -> tuple[Any, list[str], Any]:  # on a worker thread: this runs on the loop
        store = Store.open(db_path(base))
        try:
            return (store.get_strategy(name), [s.name for s in store.list_strategies()],
                    _market_time(store))
        finally:
            store.close()

    strategy, names, market_time = await asyncio.to_thread(read)
    if strategy is None:
        raise LookupError(f"no strategy named {name!r}; known: {', '.join(names)}")
    # The preview runs on a scratch paper world so it never moves the trader's paper clock.
    with tempfile.TemporaryDirectory(prefix="tastydesk-preview-") as tmp:
        engine, _ = await open_paper_engine(Path(tmp), seed=seed, start=market_time)
        try:
            proposal = await engine.facade.preview(strategy, symbol)
        finally:
            await engine.store.close()
    return proposal_json(proposal)


def _market_time(store: Any) -> Any:
    from datetime import datetime

    from tastydesk.engine.bootstrap import PAPER_CLOCK_KEY

    saved = store.get_config(PAPER_CLOCK_KEY, None)
    return datetime.fromisoformat(saved) if saved else None


def proposal_json(p: Any) -> dict[str, Any]:
    def num(x: Decimal | float) -> str | float:
        return str(x) if isinstance(x, Decimal) else round(float(x), 6)

    return {
        "strategy": p.strategy_name,
        "symbol": p.underlying,
        "spot": num(p.spot),
        "quantity": p.quantity,
        "legs": [{"symbol": leg.symbol, "type": leg.option_type.value, "side": leg.side.value,
                  "strike": num(leg.strike), "expiry": leg.expiry.isoformat(),
                  "quantity": leg.quantity, "bid": num(leg.bid), "ask": num(leg.ask),
                  "mid": num(leg.mid), "delta": num(leg.delta), "iv": num(leg.iv)}
                 for leg in p.legs],
        "net_price": num(p.mid_price),
        "natural_price": num(p.natural_price),
        "max_profit": num(p.max_profit),
        "max_loss": num(p.max_loss),
        "defined_risk": p.defined_risk,
        "breakevens": [num(b) for b in p.breakevens],
        "pop": num(p.pop),
        "touch_probability": num(p.touch_probability),
        "expected_value": num(p.expected_value),
        "risk_reward": num(p.risk_reward),
        "greeks": {"delta": num(p.greeks.delta), "gamma": num(p.greeks.gamma),
                   "theta": num(p.greeks.theta), "vega": num(p.greeks.vega),
                   "beta_weighted_delta": num(p.greeks.beta_weighted_delta)},
        "buying_power": num(p.buying_power),
        "fees": num(p.fees),
        "warnings": list(p.warnings),
    }


def _print_table(r: dict[str, Any]) -> None:
    print(f"{r['strategy']} on {r['symbol']} (spot {r['spot']}), quantity {r['quantity']}")
    for leg in r["legs"]:
        print(f"  {leg['side']:>4} {leg['quantity']:>2} {leg['symbol']}  bid {leg['bid']:>7} "
              f"ask {leg['ask']:>7}  delta {leg['delta']:+.3f}")
    for key in ("net_price", "natural_price", "max_profit", "max_loss", "breakevens", "pop",
                "risk_reward", "buying_power", "fees", "warnings"):
        print(f"  {key:>14}: {r[key]}")
