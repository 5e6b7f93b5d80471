"""``tastydesk strategies``: list, show, validate, import, export and restore the strategies."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.store.service import Store
from tastydesk.engine.strategies.codec import export_json, import_json
from tastydesk.engine.strategies.validation import StrategyValidationError
from tastydesk.paths import data_dir, db_path


def add_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="list the strategies")
    show = sub.add_parser("show", help="print one strategy as JSON")
    show.add_argument("name")
    validate = sub.add_parser("validate", help="check a strategy file without importing it")
    validate.add_argument("file", type=Path)
    imp = sub.add_parser("import", help="validate a strategy file and save it (replaces a "
                                        "strategy of the same name)")
    imp.add_argument("file", type=Path)
    exp = sub.add_parser("export", help="write one strategy as JSON")
    exp.add_argument("name")
    exp.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    sub.add_parser("restore-defaults", help="put the built-in strategies back as shipped")


def run(args: argparse.Namespace) -> int:
    if args.action == "validate":
        strategy = _load(args.file)
        if strategy is None:
            return 1
        print(f"{args.file}: valid strategy {strategy.name!r}")
        return 0
    with Store.open(db_path(data_dir(getattr(args, "data_dir", None)))) as store:
        if args.action == "list":
            for s in store.list_strategies():
                print(_summary(s, store.is_builtin_strategy(s.name)))
            return 0
        if args.action == "show":
            strategy = store.get_strategy(args.name)
            if strategy is None:
                return _missing(args.name)
            sys.stdout.write(export_json(strategy))
            return 0
        if args.action == "export":
            strategy = store.get_strategy(args.name)
            if strategy is None:
                return _missing(args.name)
            if args.out is None:
                sys.stdout.write(export_json(strategy))
            else:
                args.out.write_text(export_json(strategy), encoding="utf-8")
                print(f"exported {strategy.name!r} to {args.out}")
            return 0
        if args.action == "import":
            strategy = _load(args.file)
            if strategy is None:
                return 1
            replaced = store.get_strategy(strategy.name) is not None
            store.save_strategy(strategy)
            print(f"{'replaced' if replaced else 'imported'} {strategy.name!r}")
            return 0
        store.restore_default_strategies()
        print("restored the built-in strategies")
        return 0


def _load(path: Path) -> Strategy | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: cannot read: {exc}", file=sys.stderr)
        return None
    try:
        return import_json(text)
    except StrategyValidationError as exc:
        print(f"{path}: invalid strategy", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error.path}: {error.message}", file=sys.stderr)
        return None


def _missing(name: str) -> int:
    print(f"no strategy named {name!r} (see: tastydesk strategies list)", file=sys.stderr)
    return 1


def _summary(s: Strategy, builtin: bool) -> str:
    legs = ", ".join(f"{leg.side.value} {leg.option_type.value} {leg.selection.method.value} "
                     f"{leg.selection.value}" for leg in s.legs)
    biases = "+".join(sorted(b.value for b in s.biases))
    flags = ("" if s.enabled else " [disabled]") + (" [built-in]" if builtin else "")
    return f"{s.name}{flags}: {biases}, DTE {s.dte.min}/{s.dte.target}/{s.dte.max}; {legs}"
