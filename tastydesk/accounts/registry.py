"""Where each account's files live, which paper accounts exist, and which one was used last.

The registry is one small JSON file replaced atomically; account directories are the truth
for which accounts have state (a directory without a registry entry is still listed). It also
remembers the tastytrade accounts whose login is stored (``logins``), so they are listed
before their directory exists: it is created when the account is first opened.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tastydesk.accounts.model import AccountKind, AccountRef, BadAccount, PaperAccountSpec

ACCOUNTS_DIR = "accounts"
REGISTRY_FILE = "registry.json"


def accounts_root(base: Path) -> Path:
    return Path(base) / ACCOUNTS_DIR


def account_dir(base: Path, account: AccountRef) -> Path:
    """The directory of one account's files (not created here).

    The default paper account is the data directory itself: that is where the single-database
    layout kept its paper world, so existing paper data is already in its account and every
    tool pointed at a data directory keeps finding it. Every other account has its own
    ``accounts/<kind>-<name>`` directory.
    """
    if account == AccountRef.default_paper():
        return Path(base)
    return accounts_root(base) / account.slug


def _registry_path(base: Path) -> Path:
    return accounts_root(base) / REGISTRY_FILE


def read_registry(base: Path) -> dict[str, Any]:
    """The registry's content; an unreadable file reads as empty (directories stay listed)."""
    try:
        raw = json.loads(_registry_path(base).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _write_registry(base: Path, content: dict[str, Any]) -> None:
    root = accounts_root(base)
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".registry-", dir=root)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, _registry_path(base))


def list_accounts(base: Path) -> list[AccountRef]:
    """Every account with a directory or a registry entry, paper accounts first."""
    found: set[AccountRef] = {AccountRef.default_paper()}
    root = accounts_root(base)
    if root.is_dir():
        for child in root.iterdir():
            if child.is_dir() and not child.name.startswith(".") and child.name != "paper-default":
                try:
                    found.add(AccountRef.parse(child.name))
                except BadAccount:
                    continue
    content = read_registry(base)
    for name in content.get("paper", {}):
        try:
            found.add(AccountRef(AccountKind.PAPER, name))
        except BadAccount:
            continue
    for slug in content.get("logins", []):
        try:
            found.add(AccountRef.parse(str(slug)))
        except BadAccount:
            continue
    order = {AccountKind.PAPER: 0, AccountKind.SANDBOX: 1, AccountKind.LIVE: 2}
    default = AccountRef.default_paper()
    return sorted(found, key=lambda ref: (order[ref.kind], ref != default, ref.name))


def paper_spec(base: Path, account: AccountRef) -> PaperAccountSpec:
    return PaperAccountSpec.from_dict(read_registry(base).get("paper", {}).get(account.name))


def create_paper_account(base: Path, name: str, spec: PaperAccountSpec) -> AccountRef:
    """Register a new named paper account; an existing name is refused, never reset."""
    ref = AccountRef(AccountKind.PAPER, name)
    content = read_registry(base)
    papers = dict(content.get("paper", {}))
    if name in papers or account_dir(base, ref).exists():
        raise BadAccount(f"paper account {name!r} exists already")
    papers[name] = spec.to_dict()
    _write_registry(base, {**content, "paper": papers})
    return ref


def ensure_registered(base: Path, account: AccountRef, spec: PaperAccountSpec | None = None
                      ) -> None:
    """Record a paper account's spec once (the default account's on first use)."""
    if not account.is_paper or (spec is None and account == AccountRef.default_paper()):
        return
    content = read_registry(base)
    papers = dict(content.get("paper", {}))
    if account.name not in papers:
        papers[account.name] = (spec or PaperAccountSpec()).to_dict()
        _write_registry(base, {**content, "paper": papers})


def remember_login(base: Path, account: AccountRef) -> None:
    """A tastytrade account with a stored login: listed from now on, directory or not."""
    if account.is_paper:
        return
    content = read_registry(base)
    logins = [str(s) for s in content.get("logins", [])]
    if account.slug not in logins:
        _write_registry(base, {**content, "logins": sorted([*logins, account.slug])})


def last_used(base: Path) -> AccountRef:
    """The account the trader chose last; the default paper account before any choice."""
    text = read_registry(base).get("last_used")
    if isinstance(text, str):
        try:
            return AccountRef.parse(text)
        except BadAccount:
            pass
    return AccountRef.default_paper()


def set_last_used(base: Path, account: AccountRef) -> None:
    content = read_registry(base)
    if content.get("last_used") != account.slug:
        _write_registry(base, {**content, "last_used": account.slug})


def resolve(base: Path, text: str | None) -> AccountRef:
    """``--account``'s value, or the last used account when it is not given."""
    return AccountRef.parse(text) if text else last_used(base)
