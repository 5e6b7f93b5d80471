"""Command line: ``tastydesk`` starts the desktop app; sub-commands run headless tools.

Each sub-command lives in ``tastydesk.commands.<name>`` with ``add_parser(subparsers)`` and
``run(args) -> int``; modules are imported only when their command runs, so start-up stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "strategies": "Manage strategies: list, show, validate, import, export",
    "preview": "Build a trade proposal for a strategy on the current market",
    "simulate": "Run the whole engine headless on the paper market",
    "bench": "Run the benchmarks and print their figures",
    "screenshot": "Run the app offscreen and save PNGs of the window and docks",
    "doctor": "Print diagnostics: versions, data directory, database, keyring, broker",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tastydesk", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data directory (default: platform user data dir)")
    parser.add_argument("--self-test", action="store_true",
                        help="run the app offscreen through one full workflow and exit")
    parser.add_argument("--paper", action="store_true", help="start in paper mode")
    parser.add_argument("--speed", type=float, default=None,
                        help="paper clock speed (simulated seconds per wall second)")
    parser.add_argument("--seed", type=int, default=None, help="paper market seed")
    sub = parser.add_subparsers(dest="command")
    for name, help_text in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text)
        sp.set_defaults(_module=name)
        sp.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="data directory (default: platform user data dir)")
        module = importlib.import_module(f"tastydesk.commands.{name}")
        module.add_parser(sp)
    return parser


def _take_data_dir(argv: list[str]) -> tuple[list[str], str | None]:
    """``--data-dir`` is accepted anywhere on the line, also after nested sub-commands."""
    rest: list[str] = []
    value: str | None = None
    it = iter(argv)
    for arg in it:
        if arg == "--data-dir":
            value = next(it, None)
            if value is None:
                raise SystemExit("tastydesk: error: --data-dir needs a directory")
        elif arg.startswith("--data-dir="):
            value = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return rest, value


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    argv, data_dir = _take_data_dir(list(argv))
    if data_dir is not None:
        argv = ["--data-dir", data_dir, *argv]
    if not any(a in COMMANDS for a in argv) and "-h" not in argv and "--help" not in argv:
        # Fast path: the desktop app, without importing every command module.
        parser = argparse.ArgumentParser(prog="tastydesk")
        parser.add_argument("--data-dir")
        parser.add_argument("--self-test", action="store_true")
        parser.add_argument("--paper", action="store_true")
        parser.add_argument("--speed", type=float, default=None)
        parser.add_argument("--seed", type=int, default=None)
        args = parser.parse_args(argv)
        if args.self_test:
            from tastydesk.selftest import run_self_test

            return run_self_test(args)
        from tastydesk.app import run_app

        return run_app(args)
    args = build_parser().parse_args(argv)
    if data_dir is not None:
        args.data_dir = data_dir
    module = importlib.import_module(f"tastydesk.commands.{args._module}")
    return int(module.run(args) or 0)
