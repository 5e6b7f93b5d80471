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
from tastydesk.accounts.registry import (
    account_dir,
    ensure_registered,
    remember_login,
    resolve,
)


def open_account(base: Path, text: str | None, *, migrate: bool = True,
                 create: bool = False) -> tuple[AccountRef, Path]:
    """The account ``text`` names (the last used one when None) and its directory; legacy
    single-database files are moved into their account first. ``create`` (the app opening an
    account the trader chose, e.g. a stored login in File > Switch account) creates the
    directory of an account opened for the first time; otherwise whoever first writes it
    does, and a reader creates nothing."""
    if migrate:
        migrate_legacy(base)
    account = resolve(base, text)
    folder = account_dir(base, account)
    if create and folder != base:
        folder.mkdir(parents=True, exist_ok=True)
        remember_login(base, account)
    if migrate and folder != base and folder.parent.is_dir():
        ensure_registered(base, account)
    return account, folder


def apply_to_args(args: argparse.Namespace, base: Path, text: str | None, *,
                  migrate: bool = True, create: bool = False) -> AccountRef:
    """Point ``args.data_dir`` at the account's directory; keep the root in ``data_root``."""
    account, folder = open_account(base, text, migrate=migrate, create=create)
    args.data_root = str(base)
    args.data_dir = str(folder)
    args.account = account
    return account
