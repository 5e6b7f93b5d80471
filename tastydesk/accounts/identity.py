"""Proof that an app database and a paper state belong together.

Both files carry the same account identity (a random id and the account's name), written once
when the account's engine first opens. Two counters then tie them in time:

* the paper state's **generation** counts every save of it (in the same transaction); the app
  database records the generation it last saw (``paper_generation_seen``);
* the **pairing sync** counts the times the two files were brought level. A sync writes the
  app database first (generation seen, then sync ``n``) and the paper state second (sync
  ``n``); the paper driver syncs every few seconds and when it stops, whoever saves the paper
  snapshot (the loop or a worker thread), because the sync is only ever compared at load.

The rule, checked before anything runs (:func:`pair_problem`):

* another identity: the file is foreign (another account's, or another world's);
* paper generation below the generation the app database saw: the paper state is older;
* paper sync above the app database's: the app database is older (it never wrote a sync the
  paper state holds, so it was put back from an older copy while the paper state moved on);
* app sync more than one above the paper state's: the paper state is older.

Normal crash ordering raises no alarm. The app database commits first, so a crash between the
two writes leaves it exactly one sync ahead (allowed; the next opening finishes that sync on the
paper side before anything runs, so crash after crash never leaves it two ahead); a crash
between syncs leaves the paper generation ahead of what the app database saw (allowed: every
paper save counts, the app database records them only at a sync). The paper state is never
allowed ahead on sync. What a crash can hide is a difference younger than one sync interval
(5 s in the app, 50 steps in ``simulate``), which is also about all a crash loses.
(Reads run on raw read-only connections, so ``doctor`` uses them beside a writer.)
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
SYNC_KEY = "paper_pair_sync"  # the app database's pairing sync (config key)
PAPER_CLOCK_KEY = "paper_clock"  # the paper time last saved: set once a paper engine ran
SYNC_PART = "pair_sync"  # the paper state's pairing sync (part name)


@dataclass(frozen=True, slots=True)
class PairFacts:
    """What the two files say about who they are."""

    app_identity: dict[str, Any] | None = None
    paper_identity: dict[str, Any] | None = None
    generation_seen: int = 0
    paper_generation: int = 0
    app_sync: int = 0
    paper_sync: int = 0


@dataclass(frozen=True, slots=True)
class SideFacts:
    """What one of the two files says about itself (see the module docstring)."""

    identity: dict[str, Any] | None = None
    generation: int = 0  # the paper state's own; for the app database, the one it saw
    sync: int = 0


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


def _side(identity: Any, generation: Any, sync: Any) -> SideFacts:
    return SideFacts(identity if isinstance(identity, dict) else None,
                     generation if isinstance(generation, int) else 0,
                     sync if isinstance(sync, int) else 0)


def read_app_facts(raw: sqlite3.Connection) -> SideFacts:
    """The identity, paper generation seen and pairing sync of an app database (raw
    connection)."""
    try:
        rows = dict(raw.execute("SELECT key, value FROM config WHERE key IN (?, ?, ?)",
                                (IDENTITY_KEY, GENERATION_SEEN_KEY, SYNC_KEY)).fetchall())
    except sqlite3.DatabaseError:
        return SideFacts()
    return _side(*(_json(rows.get(k)) for k in (IDENTITY_KEY, GENERATION_SEEN_KEY, SYNC_KEY)))


def read_paper_facts(raw: sqlite3.Connection) -> SideFacts:
    """The identity, save generation and pairing sync of a paper state (raw connection)."""
    try:
        rows = dict(raw.execute("SELECT name, body FROM part WHERE name IN (?, ?, ?)",
                                ("identity", "generation", SYNC_PART)).fetchall())
    except sqlite3.DatabaseError:
        return SideFacts()
    return _side(*(_json(rows.get(k)) for k in ("identity", "generation", SYNC_PART)))


def pair_facts(app: SideFacts, paper: SideFacts) -> PairFacts:
    return PairFacts(app.identity, paper.identity, app.generation, paper.generation,
                     app.sync, paper.sync)


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
    if facts.paper_sync > facts.app_sync:
        return app_name, (f"is older than {paper_name}: it is at pairing sync "
                          f"{facts.app_sync}, while {paper_name} is at sync {facts.paper_sync} "
                          f"(an old copy put back while the paper account moved on?)")
    if facts.app_sync > facts.paper_sync + 1:
        return paper_name, (f"is older than {app_name}: it is at pairing sync "
                            f"{facts.paper_sync}, while {app_name} is at sync "
                            f"{facts.app_sync} (an old copy put back?)")
    return None
