"""Proof that an app database and a paper state belong together.

Both files carry the same account identity (a random id and the account's name), written once
when the account's engine first opens. Every save of the paper state counts up its generation
(in the same transaction); the app database records the generation it last saw whenever the
paper clock is saved. A paper state with another identity is foreign; one whose generation is
below what the app database saw is older than its partner (an old copy put back): either way
the pair is refused before anything runs. (Reads run on raw read-only connections, so
``doctor`` uses them beside a writer.)
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tastydesk.accounts.model import AccountRef, BadAccount
from tastydesk.accounts.registry import ACCOUNTS_DIR

IDENTITY_KEY = "account_identity"
GENERATION_SEEN_KEY = "paper_generation_seen"


@dataclass(frozen=True, slots=True)
class PairFacts:
    """What the two files say about who they are."""

    app_identity: dict[str, Any] | None = None
    paper_identity: dict[str, Any] | None = None
    generation_seen: int = 0
    paper_generation: int = 0


def account_of_dir(folder: Path) -> AccountRef:
    """The account a directory of state files belongs to, by where it is."""
    folder = Path(folder)
    if folder.parent.name == ACCOUNTS_DIR:
        try:
            return AccountRef.parse(folder.name)
        except BadAccount:
            pass
    return AccountRef.default_paper()


def new_identity(account: AccountRef) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "account": account.slug}


def _json(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None


def read_app_facts(raw: sqlite3.Connection) -> tuple[dict[str, Any] | None, int]:
    """The identity and the paper generation an app database recorded (raw connection)."""
    try:
        rows = dict(raw.execute("SELECT key, value FROM config WHERE key IN (?, ?)",
                                (IDENTITY_KEY, GENERATION_SEEN_KEY)).fetchall())
    except sqlite3.DatabaseError:
        return None, 0
    identity = _json(rows.get(IDENTITY_KEY))
    seen = _json(rows.get(GENERATION_SEEN_KEY))
    return (identity if isinstance(identity, dict) else None,
            seen if isinstance(seen, int) else 0)


def read_paper_facts(raw: sqlite3.Connection) -> tuple[dict[str, Any] | None, int]:
    """The identity and save generation of a paper state (raw connection)."""
    try:
        rows = dict(raw.execute("SELECT name, body FROM part WHERE name IN ('identity', "
                                "'generation')").fetchall())
    except sqlite3.DatabaseError:
        return None, 0
    identity = _json(rows.get("identity"))
    generation = _json(rows.get("generation"))
    return (identity if isinstance(identity, dict) else None,
            generation if isinstance(generation, int) else 0)


def pair_problem(facts: PairFacts, account: AccountRef, app_name: str, paper_name: str
                 ) -> tuple[str, str] | None:
    """``(file name, reason)`` when the pair does not prove it belongs together, else None."""
    app, paper = facts.app_identity, facts.paper_identity
    if app is not None and app.get("account") not in (None, account.slug):
        return app_name, (f"belongs to account {app.get('account')}, not {account.slug} "
                          f"(a file from another account was put here)")
    if paper is not None and paper.get("account") not in (None, account.slug):
        return paper_name, (f"belongs to account {paper.get('account')}, not {account.slug} "
                            f"(a file from another account was put here)")
    if app is not None and paper is not None and app.get("id") != paper.get("id"):
        return paper_name, (f"is a foreign paper state: its account identity "
                            f"{paper.get('id')} is not the identity {app.get('id')} recorded in "
                            f"{app_name}")
    if facts.paper_generation < facts.generation_seen:
        return paper_name, (f"is older than {app_name}: saved {facts.paper_generation} "
                            f"time(s), while {app_name} already saw save "
                            f"{facts.generation_seen} (an old copy put back?)")
    return None
