"""Command line: ``tastydesk`` starts the desktop app; sub-commands run headless tools.

Each sub-command lives in ``tastydesk.commands.<name>`` (dashes as underscores) with
``add_parser(subparsers)`` and ``run(args) -> int``; modules are imported only when their
command runs, so start-up stays fast.
Every failure ends in one line on stderr and an exit code from :mod:`tastydesk.exit_codes`:
a second writer, damaged state and unexpected errors are caught here, once for all commands
(an unexpected error's traceback goes to the log file only).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import sys
from pathlib import Path

from tastydesk.exit_codes import HELP as EXIT_CODES_HELP
from tastydesk.exit_codes import CommandError, ExitCode

COMMANDS = {
    "strategies": "Manage strategies: list, show, validate, import, export",
    "preview": "Build a trade proposal for a strategy on the current market",
    "simulate": "Run the whole engine headless on the paper market",
    "bench": "Run the benchmarks and print their figures",
    "screenshot": "Run the app offscreen and save PNGs of the window and docks",
    "doctor": "Print diagnostics: versions, data directory, database, keyring, broker",
    "orders": "Export every order: legs, prices, time in force, status history, fills, fees",
    "journal": "Export every closed trade with its order chain's totals (CSV or JSON)",
    "accounts": "Accounts: list, create a paper account, choose one, restore a backup",
    "roll-preview": "Preview the roll of an open position: new legs, net price, risk after it",
}
# Commands that write the data directory they are given (strategies import/restore decide
# for themselves); without --data-dir these run on a temporary directory of their own.
WRITES_GIVEN_DATA_DIR = frozenset({"screenshot"})
# Commands that run on a temporary directory of their own unless --data-dir/--account is given.
TEMPORARY_WITHOUT_DATA_DIR = frozenset({"simulate", "screenshot", "bench"})
# Commands that only read: they never move legacy files nor create an account's directory.
READ_ONLY = frozenset({"doctor", "orders", "journal", "roll-preview"})
MAX_MESSAGE = 400


ACCOUNT_HELP = ("account: paper-NAME, sandbox-NUMBER or live-NUMBER (default: the last used, "
                "else the default paper account)")


class BadInput(CommandError):
    """Input refused before anything ran; the message is one line."""

    exit_code = ExitCode.BAD_INPUT


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """The full parser (every command module imported); built once per process."""
    parser = argparse.ArgumentParser(prog="tastydesk", description=__doc__.splitlines()[0],
                                     epilog=EXIT_CODES_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="data directory (default: platform user data dir)")
    parser.add_argument("--account", help=ACCOUNT_HELP)
    parser.add_argument("--self-test", action="store_true",
                        help="run the app through one full workflow and exit (offscreen unless "
                             "QT_QPA_PLATFORM names a platform)")
    parser.add_argument("--paper", action="store_true", help="start in paper mode")
    parser.add_argument("--speed", type=float, default=None,
                        help="paper clock speed (simulated seconds per wall second)")
    parser.add_argument("--seed", type=int, default=None, help="paper market seed")
    sub = parser.add_subparsers(dest="command")
    for name, help_text in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, epilog=EXIT_CODES_HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.set_defaults(_module=name)
        sp.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="data directory (default: platform user data dir)")
        sp.add_argument("--account", default=argparse.SUPPRESS, help=ACCOUNT_HELP)
        module = importlib.import_module(f"tastydesk.commands.{_module_name(name)}")
        module.add_parser(sp)
    return parser


def _module_name(command: str) -> str:
    return command.replace("-", "_")


def _take_data_dir(argv: list[str]) -> tuple[list[str], str | None]:
    """``--data-dir`` is accepted anywhere on the line, also after nested sub-commands."""
    rest, value = _take_option(argv, "--data-dir", "a directory")
    if value is not None and not value.strip():
        raise BadInput("--data-dir needs a directory, got an empty value")
    return rest, value


def _take_option(argv: list[str], name: str, what: str = "a value"
                 ) -> tuple[list[str], str | None]:
    """Remove ``name VALUE`` / ``name=VALUE`` from anywhere on the line; its value."""
    rest: list[str] = []
    value: str | None = None
    it = iter(argv)
    for arg in it:
        if arg == name:
            value = next(it, None)
            if value is None:
                raise BadInput(f"{name} needs {what}")
        elif arg.startswith(f"{name}="):
            value = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return rest, value


def _select_account(args: argparse.Namespace, data_dir: str | None, account: str | None,
                    *, migrate: bool = True) -> None:
    """Point ``args.data_dir`` at the chosen account's directory (see
    :mod:`tastydesk.accounts.selection`)."""
    from tastydesk import paths
    from tastydesk.accounts.selection import apply_to_args

    if account is not None and not account.strip():
        raise BadInput("--account needs an account, got an empty value")
    # A reading command creates nothing: a directory that is not there is its own to report.
    base = paths.data_dir(None) if data_dir is None else Path(data_dir)
    apply_to_args(args, base, account, migrate=migrate)


def main(argv: list[str] | None = None) -> int:
    """Run one command line; returns its exit code (see :mod:`tastydesk.exit_codes`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _dispatch(argv)
    except BadInput as exc:
        return _fail(f"error: {exc}", exc.exit_code)
    except CommandError as exc:  # a second writer, damaged state
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", ExitCode.INTERRUPTED)
    except OSError as exc:
        if exc.filename is None:
            return _internal_error(exc, argv)
        # An unusable path given on the command line (a file as --data-dir, no permission).
        return _fail(f"cannot use {exc.filename}: {exc.strerror or exc}", ExitCode.BAD_INPUT)
    except Exception as exc:  # the last resort: one line here, the traceback in the log
        return _internal_error(exc, argv)


def _dispatch(argv: list[str]) -> int:
    argv, data_dir = _take_data_dir(argv)
    argv, account = _take_option(argv, "--account", "an account")
    if data_dir is not None:
        argv = ["--data-dir", data_dir, *argv]
    if not any(a in COMMANDS for a in argv) and "-h" not in argv and "--help" not in argv:
        # Fast path: the desktop app, without importing every command module.
        parser = argparse.ArgumentParser(prog="tastydesk", epilog=EXIT_CODES_HELP)
        parser.add_argument("--data-dir")
        parser.add_argument("--account")
        parser.add_argument("--self-test", action="store_true")
        parser.add_argument("--paper", action="store_true")
        parser.add_argument("--speed", type=float, default=None)
        parser.add_argument("--seed", type=int, default=None)
        args = parser.parse_args(argv)
        if args.speed is not None and not args.speed > 0:
            raise BadInput(f"--speed must be positive, got {args.speed}")
        if args.paper and account is None:
            account = "paper"  # --paper: the default paper account, whatever was used last
        if not (args.self_test and data_dir is None and account is None):
            _select_account(args, data_dir, account)
        if args.self_test:
            return _self_test(args)
        from tastydesk.app import run_app

        return run_app(args)
    args = build_parser().parse_args(argv)
    if data_dir is not None:
        args.data_dir = data_dir
    if not (args._module in TEMPORARY_WITHOUT_DATA_DIR and data_dir is None and account is None):
        _select_account(args, data_dir, account, migrate=args._module not in READ_ONLY)
    module = importlib.import_module(f"tastydesk.commands.{_module_name(args._module)}")
    if args._module in WRITES_GIVEN_DATA_DIR and data_dir is not None:
        from tastydesk.commands.writer import writing

        with writing(Path(args.data_dir), paper_state=True):
            return int(module.run(args) or 0)
    return int(module.run(args) or 0)


def _self_test(args: argparse.Namespace) -> int:
    from tastydesk.selftest import run_self_test

    if not args.data_dir:
        return run_self_test(args)  # a temporary data directory of its own
    from tastydesk.commands.writer import writing

    with writing(Path(args.data_dir), paper_state=True):
        return run_self_test(args)


def _fail(message: str, code: ExitCode) -> int:
    print(f"tastydesk: {_one_line(message)}", file=sys.stderr, flush=True)
    return int(code)


def _one_line(text: str) -> str:
    from tastydesk.paths import redact

    line = " ".join(redact(text).split())
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 1] + "…"


def _internal_error(exc: BaseException, argv: list[str]) -> int:
    log_file = _log_exception(exc, argv)
    what = _one_line(f"{type(exc).__name__}: {exc}")[:240]
    where = f" (traceback in {log_file})" if log_file else ""
    return _fail(f"internal error: {what}{where}", ExitCode.INTERNAL_ERROR)


def _log_exception(exc: BaseException, argv: list[str]) -> Path | None:
    """Write the traceback to the data directory's log file (a temporary directory's if that
    is unusable), never to the console."""
    import tempfile

    from tastydesk import paths

    try:
        _rest, override = _take_data_dir(list(argv))
    except BadInput:
        override = None
    for candidate in (lambda: paths.data_dir(override),
                      lambda: Path(tempfile.gettempdir()) / "tastydesk"):
        try:
            base = candidate()
            paths.setup_logging(base, console=False)
        except Exception:
            continue
        logger = logging.getLogger("tastydesk.cli")
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0,
                                   "unexpected error running: tastydesk %s", (" ".join(argv),),
                                   (type(exc), exc, exc.__traceback__))
        log_file = paths.log_dir(base) / "tastydesk.log"
        files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)
                 and Path(h.baseFilename) == log_file.absolute()]
        for handler in files:
            handler.handle(record)
        if files:
            return log_file
    return None
