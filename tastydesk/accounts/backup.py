"""Daily backups of one account's state files, and putting the latest one back.

``<account>/backups/<YYYY-MM-DD>/`` holds a copy of the app database and the paper state made
with SQLite's online backup (``sqlite3.Connection.backup``: consistent even while a write-ahead
log is in use). A writer takes the day's backup when it starts on state that passed its checks
(if the day has none yet) and refreshes it when it ends cleanly on state that still passes;
the newest :data:`KEEP` days are kept. Restoring moves the current files aside (never deletes
them) and puts the backup's files in their place. The caller holds the account's writer lock.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from contextlib import closing
from datetime import date
from pathlib import Path

BACKUPS_DIR = "backups"
KEEP = 7
STATE_FILES = ("tastydesk.db", "paper.db")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class NoBackup(RuntimeError):
    """There is no backup to restore; the message names the folder."""


def backups_dir(folder: Path) -> Path:
    return Path(folder) / BACKUPS_DIR


def list_backups(folder: Path) -> list[Path]:
    """The day folders, newest first."""
    root = backups_dir(folder)
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and _DAY.fullmatch(p.name)),
                  key=lambda p: p.name, reverse=True)


def latest_backup(folder: Path) -> Path | None:
    found = list_backups(folder)
    return found[0] if found else None


def _copy(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src, \
            closing(sqlite3.connect(str(target))) as dst:
        src.backup(dst)
        if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError(f"{target}: the copy failed its integrity check")


def take_backup(folder: Path, *, today: date | None = None, replace: bool = True,
                keep: int = KEEP) -> Path | None:
    """Back up the account's files as the day's backup; None when there is nothing to back up
    or (``replace`` False) the day has one already."""
    folder = Path(folder)
    files = [name for name in STATE_FILES
             if (folder / name).exists() and (folder / name).stat().st_size > 0]
    if not files:
        return None
    root = backups_dir(folder)
    final = root / (today or date.today()).isoformat()
    if final.exists() and not replace:
        return None
    staging = root / f".{final.name}.new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for name in files:
            _copy(folder / name, staging / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = root / f".{final.name}.old"
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    for stale in list_backups(folder)[keep:]:
        shutil.rmtree(stale, ignore_errors=True)
    return final


def set_aside(folder: Path, why: str) -> Path:
    """Move the account's state files (and their logs) into ``<folder>/<why>-<time>/``."""
    folder = Path(folder)
    aside = folder / f"{why}-{time.strftime('%Y%m%d-%H%M%S')}"
    aside.mkdir()
    for name in STATE_FILES:
        for path in (folder / name, folder / f"{name}-wal", folder / f"{name}-shm"):
            if path.exists():
                path.replace(aside / path.name)
    return aside


def restore_latest(folder: Path) -> tuple[Path, Path]:
    """Put the newest backup in place of the current files; returns (backup, set-aside
    folder). Raises :class:`NoBackup` when there is none."""
    folder = Path(folder)
    latest = latest_backup(folder)
    if latest is None:
        raise NoBackup(f"{backups_dir(folder)}: no backup to restore")
    aside = set_aside(folder, "replaced")
    for name in STATE_FILES:
        if (latest / name).exists():
            staged = folder / f".{name}.restoring"
            _copy(latest / name, staged)
            staged.replace(folder / name)
    return latest, aside
