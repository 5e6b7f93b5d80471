"""``tastydesk bench``: run every benchmark and print its figures (JSON with ``--json``)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

from tastydesk.benchmarks import MODULES


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--only", action="append", default=[],
                        help="run only benchmarks whose name contains this text (repeatable)")


def run(args: argparse.Namespace) -> int:
    results: dict[str, dict[str, object]] = {}
    failed = False
    for module_name in MODULES:
        module = importlib.import_module(f"tastydesk.benchmarks.{module_name}")
        for name, func in module.BENCHMARKS:
            if args.only and not any(o in name for o in args.only):
                continue
            start = time.perf_counter()
            try:
                figures = func()
            except Exception as exc:  # a broken benchmark is reported, the others still run
                figures = {"error": f"{type(exc).__name__}: {exc}", "ok": False}
            figures["wall_s"] = round(time.perf_counter() - start, 3)
            results[name] = figures
            failed |= figures.get("ok") is False
            if not args.json:
                print(_format(name, figures), flush=True)
    if args.json:
        json.dump(results, sys.stdout, indent=2, default=str)
        print()
    return 1 if failed else 0


def _format(name: str, figures: dict[str, object]) -> str:
    ok = figures.get("ok")
    mark = "  " if ok is None else ("ok" if ok else "!!")
    parts = [f"{k}={v}" for k, v in figures.items() if k not in {"ok"}]
    return f"[{mark}] {name}: " + ", ".join(parts)
