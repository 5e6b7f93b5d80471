"""``tastydesk strategies``: list, show, validate, import, export and restore the strategies.

``validate``, ``list``, ``show`` and ``export`` only read, so they run beside the app.
``import`` and ``restore-defaults`` write the data directory: a file is validated completely
first, then the directory's writer lock is taken; an invalid file changes nothing. Every error
is one line naming the file and the field (``legs[2].selection.value``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tastydesk.commands.state_files import require_readable_app_database
from tastydesk.commands.writer import writing
from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.store.service import Store
from tastydesk.engine.strategies.codec import MAX_FILE_BYTES, export_json, import_json
from tastydesk.engine.strategies.validation import StrategyValidationError
from tastydesk.exit_codes import ExitCode
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
    if args.action in ("validate", "import"):
        strategy = _load(args.file)
        if strategy is None:
            return int(ExitCode.BAD_INPUT)
        if args.action == "validate":
            print(f"{args.file}: valid strategy {strategy.name!r}")
            return int(ExitCode.OK)
    base = data_dir(getattr(args, "data_dir", None))
    if args.action in ("import", "restore-defaults"):
        with writing(base, paper_state=False), Store.open(db_path(base)) as store:
            if args.action == "import":
                replaced = store.get_strategy(strategy.name) is not None
                store.save_strategy(strategy)
                print(f"{'replaced' if replaced else 'imported'} {strategy.name!r}")
            else:
                store.restore_default_strategies()
                print("restored the built-in strategies")
        return int(ExitCode.OK)
    require_readable_app_database(base)
    with Store.open(db_path(base)) as store:
        try:
            return _read(args, store)
        except StrategyValidationError as exc:
            # Only a strategy stored by something other than tastydesk can get here.
            print(f"{db_path(base)}: a stored strategy is unusable: {_errors(exc)}",
                  file=sys.stderr)
            return int(ExitCode.DAMAGED_STATE)


def _read(args: argparse.Namespace, store: Store) -> int:
    if args.action == "list":
        for s in store.list_strategies():
            print(_summary(s, store.is_builtin_strategy(s.name)))
        return int(ExitCode.OK)
    strategy = store.get_strategy(args.name)
    if strategy is None:
        return _missing(args.name)
    text = export_json(strategy)
    if args.action == "export" and args.out is not None:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"{args.out}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return int(ExitCode.BAD_INPUT)
        print(f"exported {strategy.name!r} to {args.out}")
        return int(ExitCode.OK)
    sys.stdout.write(text)
    return int(ExitCode.OK)


def _load(path: Path) -> Strategy | None:
    """The strategy in ``path``, or None after printing one line naming the file and fields."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            print(f"{path}: not a strategy file (larger than {MAX_FILE_BYTES // 1024} KiB)",
                  file=sys.stderr)
            return None
        data = path.read_bytes()
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return None
    try:
        return import_json(data)
    except StrategyValidationError as exc:
        print(f"{path}: invalid strategy: {_errors(exc)}", file=sys.stderr)
        return None


def _errors(exc: StrategyValidationError) -> str:
    """Every field error on one line; text from the file is shown escaped, never raw."""
    return "; ".join(str(e) for e in exc.errors).encode("utf-8", "backslashreplace").decode("utf-8")


def _missing(name: str) -> int:
    print(f"no strategy named {name!r} (see: tastydesk strategies list)", file=sys.stderr)
    return int(ExitCode.BAD_INPUT)


def _summary(s: Strategy, builtin: bool) -> str:
    legs = ", ".join(f"{leg.side.value} {leg.option_type.value} {leg.selection.method.value} "
                     f"{leg.selection.value}" for leg in s.legs)
    biases = "+".join(sorted(b.value for b in s.biases))
    flags = ("" if s.enabled else " [disabled]") + (" [built-in]" if builtin else "")
    return f"{s.name}{flags}: {biases}, DTE {s.dte.min}/{s.dte.target}/{s.dte.max}; {legs}"
