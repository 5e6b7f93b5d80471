"""Accounts kept apart: every paper, sandbox and live account has its own directory of state.

``<data>/accounts/<kind>-<name>/`` holds one account's app database, its paper state (paper
accounts), its backups and its writer lock. The default paper account keeps these in the data
directory itself, where the single-database layout kept its paper world.
``<data>/accounts/registry.json`` remembers the named paper accounts (seed, starting cash) and
the account used last. Nothing here imports Qt or the engine, so the command line resolves
``--account`` without loading either.
"""

from tastydesk.accounts.model import AccountKind, AccountRef, BadAccount, PaperAccountSpec

__all__ = ["AccountKind", "AccountRef", "BadAccount", "PaperAccountSpec"]
