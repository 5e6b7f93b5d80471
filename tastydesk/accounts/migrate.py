"""Moving a data directory of the single-database layout into the account it belongs to.

Before accounts, ``<data>/tastydesk.db`` and ``<data>/paper.db`` held everything. A paper world
is already where the default paper account keeps its files (the data directory itself), so it
stays. An app database with a stored tastytrade account number and no paper world belongs to
that account: on the first start that sees it, it moves, once, into the account's directory.
The copies are made with SQLite's online backup (consistent even with
a write-ahead log), checked, and put in place by one directory rename; the old files are then
moved aside to ``<data>/before-accounts/``, never deleted. Damaged or mismatched files are
refused with a message naming them, and nothing is written.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from tastydesk.accounts.model import AccountKind, AccountRef
from tastydesk.accounts.registry import (
    account_dir,
    accounts_root,
    ensure_registered,
    read_registry,
    set_last_used,
)
from tastydesk.locking import WriterLock, lock_path

APP_DB = "tastydesk.db"
PAPER_DB = "paper.db"
RETIRED_DIR = "before-accounts"
MARKER = "migrated-from.json"


def _legacy_files(base: Path) -> list[Path]:
    """The data directory's files when they belong to a tastytrade account; else none."""
    if not (base / APP_DB).exists() or target_account(base).is_paper:
        return []
    return [p for p in (base / APP_DB, base / PAPER_DB) if p.exists()]


def _fingerprint(files: list[Path]) -> dict[str, list[float]]:
    return {p.name: [p.stat().st_size, p.stat().st_mtime] for p in files}


def needs_migration(base: Path) -> bool:
    return bool(_legacy_files(Path(base)))


def _stored_account(app_db: Path) -> AccountRef | None:
    from tastydesk.commands.state_files import read_only

    if not app_db.exists() or app_db.stat().st_size == 0:
        return None
    with closing(read_only(app_db)) as raw:
        for env in (AccountKind.LIVE, AccountKind.SANDBOX):
            try:
                row = raw.execute("SELECT value FROM config WHERE key=?",
                                  (f"account:{env.value}",)).fetchone()
            except sqlite3.DatabaseError:
                return None
            if row:
                try:
                    number = json.loads(row[0])
                except ValueError:
                    number = row[0]
                return AccountRef(env, str(number))
    return None


def target_account(base: Path) -> AccountRef:
    """The account the legacy files belong to (see the module docstring)."""
    from tastydesk.commands.state_files import inspect_app_database, inspect_paper_state

    app = inspect_app_database(base / APP_DB)
    paper = inspect_paper_state(base / PAPER_DB)
    if paper.parts or paper.problem or app.paper_used or app.problem:
        return AccountRef.default_paper()
    return _stored_account(base / APP_DB) or AccountRef.default_paper()


def _copy(source: Path, target: Path) -> None:
    if source.stat().st_size == 0:
        return  # an empty file holds nothing; the check below decided it may be dropped
    with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src, \
            closing(sqlite3.connect(str(target))) as dst:
        src.backup(dst)
        if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError(f"{target}: copy failed its integrity check")


def migrate_legacy(base: Path) -> AccountRef | None:
    """Move the legacy files into their account (see the module docstring); None when there
    were none. Raises :class:`~tastydesk.commands.state_files.DamagedState` when they cannot
    move safely, :class:`~tastydesk.locking.LockHeld` when another process writes ``base``."""
    from tastydesk.commands.state_files import DamagedState, StateProblem, check_state_files

    base = Path(base)
    if not needs_migration(base):
        return None
    with WriterLock(lock_path(base)):
        legacy = _legacy_files(base)
        if not legacy:
            return None
        target = target_account(base)
        final = account_dir(base, target)
        marker = final / MARKER
        if final.exists():
            if marker.exists() and json.loads(marker.read_text()) == _fingerprint(legacy):
                _retire(base, legacy)  # a previous run stopped after the rename
                return target
            raise DamagedState([StateProblem(legacy[0], (
                f"left from before accounts while account {target.slug} exists already "
                f"({final}); move one of them away"))])
        problems = check_state_files(base)
        if problems:
            raise DamagedState([StateProblem(p.path, "cannot move it into its account: "
                                             + p.reason) for p in problems])
        staging = accounts_root(base) / f".migrating-{target.slug}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            for source in legacy:
                _copy(source, staging / source.name)
            (staging / MARKER).write_text(json.dumps(_fingerprint(legacy)))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        staging.rename(final)
        _retire(base, legacy)
        ensure_registered(base, target)
        if "last_used" not in read_registry(base):
            set_last_used(base, target)
        return target


def _retire(base: Path, legacy: list[Path]) -> None:
    retired = base / RETIRED_DIR
    retired.mkdir(exist_ok=True)
    for source in legacy:
        for path in (source, Path(f"{source}-wal"), Path(f"{source}-shm")):
            if path.exists():
                path.replace(retired / path.name)
