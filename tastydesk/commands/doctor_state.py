"""The doctor's sections about the state beside the database: the paper state, the writer lock
and the backups. Everything is read without writing, so they run beside a writer."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from tastydesk import paths
from tastydesk.commands.doctor_report import OK, PROBLEM, WARN
from tastydesk.commands.state_files import (
    inspect_app_database,
    inspect_paper_state,
    pairing_problems,
    paper_state_path,
    read_only,
)
from tastydesk.locking import lock_path, probe

BACKUPS_FOLDER = "backups"
BACKUP_SUFFIXES = (".db", ".sqlite", ".bak")
CHECKED_BACKUPS = 3  # the newest few are opened; older ones are only listed


def backups_folder(base: Path) -> Path:
    return Path(base) / BACKUPS_FOLDER


def paper_state(add: Callable[..., None], base: Path) -> None:
    """Readable, and present wherever the app database holds a paper account's history."""
    path = paper_state_path(base)
    paper = inspect_paper_state(path)
    add("path", str(path))
    if paper.problem:
        add("status", paper.problem, PROBLEM)
    elif not paper.exists:
        add("status", "not created yet (created when the paper market first runs)")
    elif paper.size == 0:
        add("status", "empty (0 bytes)")
    else:
        add("status", f"{paper.parts} saved part(s), {paper.size / 1024:.0f} KiB")
    app = inspect_app_database(paths.db_path(base))
    for problem in pairing_problems(app, paper):
        add("pairing", str(problem), PROBLEM)


def writer_lock(add: Callable[..., None], base: Path) -> None:
    """Who writes this data directory right now (informational: a holder is not a problem)."""
    path = lock_path(base)
    holder = probe(path)
    add("lock file", str(path))
    add("holder", "none: no tastydesk process is writing this directory" if holder is None
        else f"{holder.describe()}, since {holder.since or 'unknown'}")


def backups(add: Callable[..., None], base: Path) -> None:
    """How many backups there are, how old the newest is, and whether the newest open."""
    folder = backups_folder(base)
    files = sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix in BACKUP_SUFFIXES),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    add("folder", str(folder))
    if not files:
        add("backups", "none yet", WARN)
        return
    age_h = (time.time() - files[0].stat().st_mtime) / 3600
    add("backups", f"{len(files)}; newest {files[0].name}, {age_h:.1f} h old",
        OK if age_h <= 48 else WARN)
    for path in files[:CHECKED_BACKUPS]:
        problem = _unreadable(path)
        if problem:
            add(path.name, problem, PROBLEM)


def _unreadable(path: Path) -> str | None:
    import sqlite3

    if path.stat().st_size == 0:
        return "empty (0 bytes): cannot be restored"
    try:
        with closing(read_only(path)) as raw:
            rows = [row[0] for row in raw.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        return f"not a readable SQLite database ({exc})"
    return None if rows == ["ok"] else f"damaged ({'; '.join(map(str, rows[:3]))})"


def account_summary(add: Callable[..., None], folder: Path, *, paper: bool) -> None:
    """One account other than the one in use: its files, their pairing (identity and
    generation), its backups and its writer lock, each problem named by file."""
    from tastydesk.accounts.backup import latest_backup
    from tastydesk.commands.state_files import app_database_problems, check_state_files

    add("folder", str(folder))
    app = inspect_app_database(paths.db_path(folder))
    problems = (check_state_files(folder) if paper else app_database_problems(app))
    for problem in problems:
        add("state", str(problem), PROBLEM)
    if not problems:
        add("state", "no files yet" if not app.exists else
            f"{app.history} workflow(s) and order(s); identity "
            f"{(app.identity or {}).get('id', 'not yet written')}, paper save "
            f"{app.generation_seen} seen")
    backup = latest_backup(folder)
    add("latest backup", backup.name if backup else "none yet", OK if backup else WARN)
    if backup is not None:
        for path in sorted(backup.iterdir()):
            problem = _unreadable(path)
            if problem:
                add(f"backup {path.name}", problem, PROBLEM)
    holder = probe(lock_path(folder))
    add("writer", "none" if holder is None else holder.describe())
