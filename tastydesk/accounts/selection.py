"""Turning the command line's ``--data-dir`` and ``--account`` into one account's directory.

Every command then works on that directory as before (its ``tastydesk.db``, ``paper.db`` and
writer lock), so commands need not know about accounts; ``doctor`` also gets the data
directory itself to check every account.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tastydesk.accounts.migrate import migrate_legacy
from tastydesk.accounts.model import AccountRef
from tastydesk.accounts.registry import account_dir, ensure_registered, resolve


def open_account(base: Path, text: str | None, *, migrate: bool = True) -> tuple[AccountRef, Path]:
    """The account ``text`` names (the last used one when None) and its directory (created by
    whoever first writes it); legacy single-database files are moved into their account
    first."""
    if migrate:
        migrate_legacy(base)
    account = resolve(base, text)
    folder = account_dir(base, account)
    if migrate and folder != base and folder.parent.is_dir():
        ensure_registered(base, account)
    return account, folder


def apply_to_args(args: argparse.Namespace, base: Path, text: str | None, *,
                  migrate: bool = True) -> AccountRef:
    """Point ``args.data_dir`` at the account's directory; keep the root in ``data_root``."""
    account, folder = open_account(base, text, migrate=migrate)
    args.data_root = str(base)
    args.data_dir = str(folder)
    args.account = account
    return account
