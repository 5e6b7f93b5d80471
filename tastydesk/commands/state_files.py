"""Checks of a data directory's state files, made before anything opens them for writing.

The app database (``tastydesk.db``) and the paper state (``paper.db``) belong together: a
garbled file, a database migrated by a newer tastydesk, or one file missing or empty while its
partner holds an account's history would otherwise be "repaired" by starting fresh over it.
These checks open nothing for writing and create no file, so ``doctor`` runs them beside a
writer and ``simulate`` / ``--self-test`` run them before they write anything. (Not a command:
shared by the commands and the command line, which runs it on every start: it imports
neither the engine nor SQLAlchemy, so the engine's import is paid once, when it opens.)
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tastydesk.accounts.identity import (
    PAPER_CLOCK_KEY,
    SideFacts,
    account_of_dir,
    pair_facts,
    pair_problem,
    read_app_facts,
    read_paper_facts,
)
from tastydesk.exit_codes import CommandError, ExitCode
from tastydesk.paths import PAPER_STATE_FILE, db_path


@dataclass(frozen=True, slots=True)
class StateProblem:
    """One thing wrong with one file; ``str()`` is the one-line message."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True, slots=True)
class AppDatabase:
    """What a read-only look at the app database found."""

    path: Path
    exists: bool
    size: int = 0
    revision: str | None = None
    head: str | None = None
    known_revision: bool = True
    history: int = 0  # workflows and orders it holds
    paper_used: bool = False  # a paper engine has run on it
    problem: str | None = None
    identity: dict[str, Any] | None = None  # the account identity it carries
    generation_seen: int = 0  # the paper state's save generation it last recorded
    sync: int = 0  # the pairing sync it last wrote (tastydesk.accounts.identity)


@dataclass(frozen=True, slots=True)
class PaperStateFile:
    path: Path
    exists: bool
    size: int = 0
    parts: int = 0
    problem: str | None = None
    identity: dict[str, Any] | None = None
    generation: int = 0
    sync: int = 0


def paper_state_path(base: Path) -> Path:
    return Path(base) / PAPER_STATE_FILE


def read_only(path: Path) -> sqlite3.Connection:
    """A connection that can neither write nor create ``path``."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)


def _quick_check(raw: sqlite3.Connection) -> str | None:
    rows = [row[0] for row in raw.execute("PRAGMA quick_check")]
    return None if rows == ["ok"] else f"damaged ({'; '.join(str(r) for r in rows[:3])})"


def _table_exists(raw: sqlite3.Connection, name: str) -> bool:
    return raw.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                       (name,)).fetchone() is not None


def migration_head() -> tuple[str | None, frozenset[str]]:
    """The newest migration this tastydesk knows, and every revision it knows (read once, from
    the scripts' text: the start-up check needs no Alembic)."""
    from tastydesk.engine.schema_revisions import script_revisions

    return script_revisions()


def inspect_app_database(path: Path) -> AppDatabase:
    """Look at the app database without writing it; problems are reported, never raised."""
    if not path.exists():
        return AppDatabase(path, exists=False)
    size = path.stat().st_size
    if size == 0:
        return AppDatabase(path, exists=True)
    head, known = migration_head()
    try:
        with closing(read_only(path)) as raw:
            problem = _quick_check(raw)
            revision = None
            if _table_exists(raw, "alembic_version"):
                row = raw.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
            history = sum(raw.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                          for table in ("workflows", "orders") if _table_exists(raw, table))
            paper_used = _table_exists(raw, "config") and raw.execute(
                "SELECT 1 FROM config WHERE key=?", (PAPER_CLOCK_KEY,)).fetchone() is not None
            facts = read_app_facts(raw) if _table_exists(raw, "config") else SideFacts()
    except sqlite3.DatabaseError as exc:
        return AppDatabase(path, exists=True, size=size, head=head,
                           problem=f"not a readable SQLite database ({exc})")
    return AppDatabase(path, exists=True, size=size, revision=revision, head=head,
                       known_revision=revision is None or revision in known, history=history,
                       paper_used=paper_used, problem=problem, identity=facts.identity,
                       generation_seen=facts.generation, sync=facts.sync)


def inspect_paper_state(path: Path) -> PaperStateFile:
    if not path.exists():
        return PaperStateFile(path, exists=False)
    size = path.stat().st_size
    if size == 0:
        return PaperStateFile(path, exists=True)
    try:
        with closing(read_only(path)) as raw:
            problem = _quick_check(raw)
            if problem is None and not _table_exists(raw, "part"):
                problem = "not a tastydesk paper state file (no 'part' table)"
            parts = 0 if problem else raw.execute("SELECT COUNT(*) FROM part").fetchone()[0]
            facts = SideFacts() if problem else read_paper_facts(raw)
    except sqlite3.DatabaseError as exc:
        return PaperStateFile(path, exists=True, size=size,
                              problem=f"not a readable SQLite database ({exc})")
    return PaperStateFile(path, exists=True, size=size, parts=parts, problem=problem,
                          identity=facts.identity, generation=facts.generation, sync=facts.sync)


def app_database_problems(app: AppDatabase) -> list[StateProblem]:
    problems: list[StateProblem] = []
    if app.problem:
        problems.append(StateProblem(app.path, app.problem))
    elif not app.known_revision:
        problems.append(StateProblem(
            app.path, f"migrated to revision {app.revision} by a newer tastydesk (this one "
                      f"knows up to {app.head}); update tastydesk to open it"))
    return problems


def pairing_problems(app: AppDatabase, paper: PaperStateFile) -> list[StateProblem]:
    """One file empty or missing while its partner holds an account's history."""
    problems: list[StateProblem] = []
    paper_missing = not paper.exists or paper.size == 0
    partnered = (app.history and app.paper_used) or app.generation_seen > 0
    if partnered and paper_missing and not app.problem:
        what = "missing" if not paper.exists else "empty (0 bytes)"
        problems.append(StateProblem(
            paper.path, f"{what} while {app.path.name} holds {app.history} workflow(s) and "
                        f"order(s) of a paper account (it saw paper save "
                        f"{app.generation_seen}); the paper account would silently start "
                        f"over (restore the latest backup, or move both files away to start "
                        f"anew)"))
    app_missing = not app.exists or app.size == 0
    if app_missing and paper.parts and not paper.problem:
        what = "missing" if not app.exists else "empty (0 bytes)"
        problems.append(StateProblem(
            app.path, f"{what} while {paper.path.name} holds a paper account; its positions "
                      f"would be orphaned (restore the latest backup, or move both files away "
                      f"to start anew)"))
    if not problems and not app.problem and not paper.problem and paper.exists and paper.size:
        facts = pair_facts(SideFacts(app.identity, app.generation_seen, app.sync),
                           SideFacts(paper.identity, paper.generation, paper.sync))
        found = pair_problem(facts, account_of_dir(app.path.parent), app.path.name,
                             paper.path.name)
        if found is not None:
            name, reason = found
            problems.append(StateProblem(app.path if name == app.path.name else paper.path,
                                         reason))
    return problems


def check_state_files(base: Path) -> list[StateProblem]:
    """Everything that must stop a writer before it touches ``base``; ``[]`` when fine."""
    app = inspect_app_database(db_path(Path(base)))
    paper = inspect_paper_state(paper_state_path(base))
    problems = app_database_problems(app)
    if paper.problem:
        problems.append(StateProblem(paper.path, paper.problem))
    return problems + pairing_problems(app, paper)



class DamagedState(CommandError):
    """State files a command must not write over; ``str()`` is one line naming each file."""

    exit_code = ExitCode.DAMAGED_STATE

    def __init__(self, problems: list[StateProblem]) -> None:
        self.problems = list(problems)
        super().__init__("refusing to run on damaged state: "
                         + "; ".join(str(p) for p in self.problems))


def require_readable_app_database(base: Path) -> None:
    """Raise :class:`DamagedState` unless the app database is absent, empty or readable at a
    revision this tastydesk knows (what every command that opens it needs)."""
    problems = app_database_problems(inspect_app_database(db_path(Path(base))))
    if problems:
        raise DamagedState(problems)
