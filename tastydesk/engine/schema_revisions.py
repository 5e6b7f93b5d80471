"""The app database's migration revisions, read from the scripts' text.

Outside the store package on purpose: checking an account's files before anything opens (the
command line's account selection, the app's state check) needs the newest revision, and
importing the store would load SQLAlchemy and, through its package, the engine.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).with_name("store") / "migrations"

_REVISION = re.compile(r"""^(down_)?revision\s*(?::[^=]*)?=\s*(?:["']([^"']+)["']|None)""",
                       re.MULTILINE)


@functools.cache
def script_revisions() -> tuple[str | None, frozenset[str]]:
    """The newest revision of the migration scripts and every revision they define, read from
    their ``revision`` and ``down_revision`` lines without importing Alembic; the newest is None
    when the scripts do not form one line (then the store's ``migrate`` asks Alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for down, name in _REVISION.findall(script.read_text(encoding="utf-8")):
            if name:
                (parents if down else revisions).add(name)
    heads = revisions - parents
    return (next(iter(heads)) if len(heads) == 1 else None), frozenset(revisions)


def head_revision() -> str | None:
    """The newest revision of the migration scripts (see :func:`script_revisions`)."""
    return script_revisions()[0]
