"""``tastydesk roll-preview --workflow ID [--json]``: the roll the Roll ticket would send now.

The strategy's new legs, the roll's net price per unit (mid and natural) and the position's risk
after it (max loss, buying power effect, credit collected so far), with the reason the pre-trade
checks would refuse it, if any.

Read-only: it runs beside the app. The account's database and paper state are copied with
SQLite's online backup (consistent while the app writes) into a scratch directory, where a paper
engine opens the copy with automation paused and previews the roll on the same paper market.
Nothing of the account is written. Exit codes: 0 the roll would go out, 1 the pre-trade checks
would refuse it (the reason is printed), 2 bad input (no such open position, not a paper account),
3 damaged state.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastydesk.engine.domain.ids import WorkflowId
from tastydesk.exit_codes import CommandError, ExitCode

USER = "roll-preview"


class CannotPreview(CommandError):
    """The roll cannot be previewed from this data directory (one line says why)."""

    exit_code = ExitCode.BAD_INPUT


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workflow", required=True, type=int, metavar="ID",
                        help="the workflow of the open position (its # in the Position Monitor)")
    parser.add_argument("--json", action="store_true", help="print JSON with stable keys")


def run(args: argparse.Namespace) -> int:
    from tastydesk.commands.exports import data_directory
    from tastydesk.commands.state_files import DamagedState, check_state_files, paper_state_path
    from tastydesk.paths import db_path

    base = data_directory(getattr(args, "data_dir", None))
    if not db_path(base).exists():
        raise CannotPreview(f"{base}: no tastydesk database (nothing has run here)")
    if not paper_state_path(base).exists():
        raise CannotPreview(f"{base}: not a paper account (no {paper_state_path(base).name}); "
                            "a tastytrade account previews its rolls in the app's Roll ticket")
    problems = check_state_files(base)
    if problems:
        raise DamagedState(problems)
    if args.workflow < 1:
        raise CannotPreview(f"--workflow: must be a positive workflow id, got {args.workflow}")
    preview = asyncio.run(_preview(base, WorkflowId(args.workflow)))
    document = preview_json(preview)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        _print_text(document)
    return int(ExitCode.PROBLEMS if preview.problem else ExitCode.OK)


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file that another process may be writing."""
    from tastydesk.commands.state_files import read_only

    with closing(read_only(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _market_seed(path: Path) -> int | None:
    """The seed the account's paper market runs on (it may differ from the configured one when
    the app was started with ``--seed``): the same market, not a fresh one."""
    from tastydesk.engine.broker.paper.state import MARKET_CORE, PaperState

    with PaperState(path) as state:
        seed = state.load(MARKET_CORE).get(MARKET_CORE, {}).get("seed")
    return int(seed) if isinstance(seed, int) else None


async def _preview(base: Path, workflow_id: WorkflowId) -> Any:
    from tastydesk.commands.state_files import paper_state_path
    from tastydesk.engine.bootstrap import open_paper_engine
    from tastydesk.engine.errors import EngineError
    from tastydesk.paths import db_path

    with tempfile.TemporaryDirectory(prefix="tastydesk-roll-preview-") as tmp:
        scratch = Path(tmp)
        await asyncio.to_thread(_copy, db_path(base), db_path(scratch))
        await asyncio.to_thread(_copy, paper_state_path(base), paper_state_path(scratch))
        seed = await asyncio.to_thread(_market_seed, paper_state_path(scratch))
        kernel, _driver = await open_paper_engine(scratch, seed=seed)
        try:
            # Nothing acts on the copy while it opens: the preview sees the position as held.
            await kernel.facade.set_automation(False, USER)
            await kernel.facade.start(start_driver=False)
            await kernel.tasks.drain()
            try:
                return await kernel.facade.preview_roll(workflow_id)
            except EngineError as exc:
                raise CannotPreview(str(exc)) from exc
        finally:
            await kernel.facade.stop()


def _num(value: Decimal | float | None) -> str | float | None:
    if value is None:
        return None
    return str(value) if isinstance(value, Decimal) else round(float(value), 6)


def preview_json(p: Any) -> dict[str, Any]:
    """The preview as JSON-ready data; prices per order unit, signed (credit +, debit -)."""
    return {
        "workflow_id": p.workflow_id,
        "symbol": p.symbol,
        "strategy": p.strategy_name,
        "held_units": p.held_units,
        "quantity": p.quantity,
        "expiry": p.expiry.isoformat(),
        "orders": list(p.orders),
        "order_units": p.order_units,
        "net_mid": _num(p.mid),
        "net_natural": _num(p.natural),
        "limit": _num(p.limit),
        "cash_at_mid": _num(p.cash),
        "closing": [{"symbol": leg.symbol, "quantity": leg.quantity, "bid": _num(leg.bid),
                     "ask": _num(leg.ask)} for leg in p.closing],
        "opening": [{"symbol": leg.symbol, "side": leg.side.value,
                     "type": leg.option_type.value, "strike": _num(leg.strike),
                     "expiry": leg.expiry.isoformat(), "quantity": leg.quantity,
                     "bid": _num(leg.bid), "ask": _num(leg.ask), "mid": _num(leg.mid),
                     "delta": _num(leg.delta), "kept": leg.symbol in p.kept}
                    for leg in p.opening],
        "max_loss": _num(p.max_loss),
        "buying_power": _num(p.buying_power),
        "buying_power_effect": _num(p.buying_power_effect),
        "credit_collected": _num(p.credit_collected),
        "credit_after": _num(p.credit_after),
        "refused": p.problem,
        "warnings": list(p.warnings),
        "expirations": [d.isoformat() for d in p.expirations],
    }


def _print_text(r: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(f"Roll #{r['workflow_id']} {r['symbol']} {r['strategy']}: {r['held_units']} "
              f"held -> {r['quantity']} at {r['expiry']} as "
              f"{', then '.join(r['orders'])}\n")
    for leg in r["closing"]:
        action = "BTC" if leg["quantity"] < 0 else "STC"
        out.write(f"  {action} {abs(leg['quantity']):>3} {leg['symbol']}  bid {leg['bid']} "
                  f"ask {leg['ask']}\n")
    for leg in r["opening"]:
        action = "keep" if leg["kept"] else ("STO" if leg["side"] == "sell" else "BTO")
        out.write(f"  {action} {leg['quantity']:>3} {leg['symbol']}  bid {leg['bid']} "
                  f"ask {leg['ask']}\n")
    for key in ("net_mid", "net_natural", "order_units", "cash_at_mid", "max_loss",
                "buying_power", "buying_power_effect", "credit_collected", "credit_after",
                "warnings"):
        out.write(f"  {key:>19}: {r[key]}\n")
    out.write(f"  {'refused':>19}: {r['refused']}\n" if r["refused"]
              else f"  {'pre-trade checks':>19}: pass\n")
