"""``tastydesk accounts``: list the accounts, create a named paper account, choose the account
the app opens, and restore an account's latest backup.

``list`` only reads. ``restore`` takes the account's writer lock, moves the current files aside
(never deletes them) and puts the newest daily backup in their place.
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tastydesk.accounts.backup import NoBackup, latest_backup, restore_latest
from tastydesk.accounts.model import AccountRef, BadAccount, PaperAccountSpec
from tastydesk.accounts.registry import (
    account_dir,
    create_paper_account,
    last_used,
    list_accounts,
    set_last_used,
)
from tastydesk.exit_codes import ExitCode
from tastydesk.locking import WriterLock, lock_path


def add_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="list the accounts, the one in use marked")
    create = sub.add_parser("create", help="create a named paper account")
    create.add_argument("name")
    create.add_argument("--paper-seed", type=int, default=1, help="its market seed")
    create.add_argument("--cash", default="100000", help="its starting cash")
    use = sub.add_parser("use", help="open this account from now on")
    use.add_argument("name")
    sub.add_parser("restore", help="put the --account's latest daily backup back")


def run(args: argparse.Namespace) -> int:
    root = Path(args.data_root)
    if args.action == "list":
        current = last_used(root)
        for ref in list_accounts(root):
            backup = latest_backup(account_dir(root, ref))
            print(f"{'*' if ref == current else ' '} {ref.slug:<24} {account_dir(root, ref)}"
                  f"  latest backup: {backup.name if backup else 'none'}")
        return int(ExitCode.OK)
    if args.action == "create":
        try:
            cash = Decimal(args.cash)
        except InvalidOperation:
            raise BadAccount(f"--cash: {args.cash!r} is not an amount") from None
        ref = create_paper_account(root, args.name, PaperAccountSpec(args.paper_seed, cash))
        print(f"created {ref.slug} in {account_dir(root, ref)}")
        return int(ExitCode.OK)
    if args.action == "use":
        ref = AccountRef.parse(args.name)
        set_last_used(root, ref)
        print(f"tastydesk opens {ref.slug} from now on")
        return int(ExitCode.OK)
    folder = Path(args.data_dir)
    with WriterLock(lock_path(folder)):
        try:
            backup, aside = restore_latest(folder)
        except NoBackup as exc:
            print(f"tastydesk accounts: {exc}")
            return int(ExitCode.PROBLEMS)
    print(f"restored {args.account.slug} from {backup}; the replaced files are in {aside}")
    return int(ExitCode.OK)
